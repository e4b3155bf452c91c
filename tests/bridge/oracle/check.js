#!/usr/bin/env node
// Checks transactions written by oracle_gen (JSON Lines on stdin) with an
// independent implementation of the AVM codec: avalanchejs v3, npm package
// avalanche@3.16.0.
//
// usage: node check.js --modules DIR [--min N] < txs.jsonl
//   DIR is the node_modules directory that holds avalanche@3.16.0.
//
// For each tx:
//   parse    avm.Tx.fromBuffer() reads exactly the given bytes, no more, no less
//   fields   tx type, network ID, chain IDs, counts and memo as parsed equal
//            the generator's
//   values   every output (asset, amount, locktime, threshold, addresses) and
//            input (txID, index, asset, amount, sig indices) as parsed equals
//            one the generator specified, and no other is there
//   bytes    tx.toBuffer() equals the bytes (it re-sorts outputs, inputs and
//            addresses, so non-canonical bytes show up here)
//   unsigned the unsigned bytes are the first unsigned_len bytes
//   txid     sha256 of the signed bytes equals txid, and its cb58 (the
//            package's own cb58 and hash) equals txid_cb58
//   signer   every signature recovers (avm.KeyPair.recover over sha256 of the
//            unsigned bytes, avm.KeyPair.addressFromPublicKey) to the expected
//            address, in credential order
//   resign   UnsignedTx.sign() with the package's own KeyChain of the given
//            secrets (RFC 6979, low S) rebuilds exactly the signed bytes
// Prints one "mismatch tx N <check>: ..." line per failure and a summary
// "oracle: N txs, M mismatches"; exits 1 on any mismatch, on unreadable input,
// or when fewer than --min (default 200) txs were checked.
"use strict";

const crypto = require("crypto");
const path = require("path");
const readline = require("readline");
const { createRequire } = require("module");

function usage(msg) {
  process.stderr.write(`check.js: ${msg}\nusage: node check.js --modules DIR [--min N]\n`);
  process.exit(2);
}

let modules = null;
let min = 200;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--modules" && i + 1 < process.argv.length) modules = process.argv[++i];
  else if (a === "--min" && i + 1 < process.argv.length) min = Number(process.argv[++i]);
  else usage(`unknown argument ${a}`);
}
if (!modules) usage("--modules is required");
if (!Number.isInteger(min) || min < 0) usage("--min must be a count");

// Resolve everything from the package's own install, not from this folder.
const req = createRequire(path.join(path.resolve(modules), "avalanche", "package.json"));
let avm, bintools, Buffer, version;
try {
  version = req("./package.json").version;
  avm = req("./dist/apis/avm");
  bintools = req("./dist/utils/bintools").default.getInstance();
  Buffer = req("buffer/").Buffer; // the Buffer class the package uses
} catch (e) {
  process.stderr.write(`check.js: cannot load avalanche from ${modules}: ${e.message}\n`);
  process.exit(2);
}
if (version !== "3.16.0") {
  process.stderr.write(`check.js: avalanche ${version} found, 3.16.0 needed\n`);
  process.exit(2);
}
// create-hash is what the package hashes with when it signs.
const createHash = req("create-hash");

const sha256 = (b) => Buffer.from(crypto.createHash("sha256").update(b).digest());
const hex = (b) => Buffer.from(b).toString("hex");

let checked = 0;
let mismatches = 0;
let failedTxs = 0;

function checkOne(line, lineNo) {
  const bad = [];
  const fail = (what, msg) => bad.push(`${what}: ${msg}`);
  let j;
  try {
    j = JSON.parse(line);
  } catch (e) {
    return [`line ${lineNo} json: ${e.message}`];
  }
  const id = j.n !== undefined ? j.n : `line ${lineNo}`;
  const done = () => bad.map((b) => `tx ${id} ${b}`);
  if (typeof j.hex !== "string" || !Array.isArray(j.signers)) {
    fail("json", "hex or signers missing");
    return done();
  }
  const buf = Buffer.from(j.hex, "hex");
  if (hex(buf) !== j.hex.toLowerCase()) {
    fail("json", "hex does not decode");
    return done();
  }

  // parse
  const tx = new avm.Tx();
  let end;
  try {
    end = tx.fromBuffer(buf);
  } catch (e) {
    fail("parse", e.message);
    return done();
  }
  if (end !== buf.length) fail("parse", `read ${end} of ${buf.length} bytes`);
  const utx = tx.getUnsignedTx();
  const btx = utx.getTransaction();

  // fields (read before toBuffer(), which sorts in place)
  const type = btx.getTxType();
  if (type !== j.type) fail("fields", `type ${type}, expected ${j.type}`);
  const net = btx.getNetworkID();
  if (net !== j.network_id) fail("fields", `networkID ${net}, expected ${j.network_id}`);
  if (hex(btx.getBlockchainID()) !== j.blockchain_id) fail("fields", "blockchainID differs");
  if (hex(btx.getMemo()) !== j.memo) fail("fields", "memo differs");
  if (btx.getOuts().length !== j.nouts)
    fail("fields", `${btx.getOuts().length} outputs, expected ${j.nouts}`);
  if (btx.getIns().length !== j.nins) fail("fields", `${btx.getIns().length} inputs, expected ${j.nins}`);
  let xins = [];
  if (type === avm.AVMConstants.EXPORTTX) {
    const n = btx.getExportOutputs().length;
    if (n !== j.nxouts) fail("fields", `${n} exported outputs, expected ${j.nxouts}`);
    if (hex(btx.getDestinationChain()) !== j.other_chain) fail("fields", "destination chain differs");
  } else if (type === avm.AVMConstants.IMPORTTX) {
    xins = btx.getImportInputs();
    if (xins.length !== j.nxins) fail("fields", `${xins.length} imported inputs, expected ${j.nxins}`);
    if (hex(btx.getSourceChain()) !== j.other_chain) fail("fields", "source chain differs");
  } else if (j.nxouts || j.nxins) {
    fail("fields", "exported outputs or imported inputs on a BaseTx");
  }

  // values: each output and input as specified (compared as multisets, the
  // codec having sorted them), read through the package's accessors
  const outKey = (o) => {
    const x = o.getOutput();
    const addrs = x.getAddresses().map(hex).sort();
    return [hex(o.getAssetID()), x.getAmount().toString(10), x.getLocktime().toString(10),
      x.getThreshold(), addrs.join(".")].join("|");
  };
  const inKey = (i) => {
    const x = i.getInput();
    const idx = x.getSigIdxs().map((s) => s.toBuffer().readUInt32BE(0));
    return [hex(i.getTxID()), i.getOutputIdx().readUInt32BE(0), hex(i.getAssetID()),
      x.getAmount().toString(10), idx.join(".")].join("|");
  };
  const wantOut = (o) => [o[0], o[1], o[2], o[3], o[4].slice().sort().join(".")].join("|");
  const wantIn = (i) => [i[0], i[1], i[2], i[3], i[4].join(".")].join("|");
  const sameSet = (what, got, want) => {
    const g = got.slice().sort(), w = want.slice().sort();
    if (g.length !== w.length || g.some((x, k) => x !== w[k])) {
      const miss = w.filter((x) => !g.includes(x));
      fail("values", `${what} differ${miss.length ? `, e.g. expected ${miss[0]}` : ""}`);
    }
  };
  if (Array.isArray(j.outs) && Array.isArray(j.ins)) {
    try {
      sameSet("outputs", btx.getOuts().map(outKey), j.outs.map(wantOut));
      sameSet("inputs", btx.getIns().map(inKey), j.ins.map(wantIn));
      const xouts = type === avm.AVMConstants.EXPORTTX ? btx.getExportOutputs() : [];
      sameSet("exported outputs", xouts.map(outKey), (j.xouts || []).map(wantOut));
      sameSet("imported inputs", xins.map(inKey), (j.xins || []).map(wantIn));
    } catch (e) {
      fail("values", `cannot read: ${e.message}`);
    }
  } else {
    fail("values", "outs or ins missing");
  }

  // bytes
  let again;
  try {
    again = tx.toBuffer();
  } catch (e) {
    fail("bytes", `toBuffer threw: ${e.message}`);
    return done();
  }
  if (!again.equals(buf)) {
    let at = 0;
    while (at < buf.length && at < again.length && buf[at] === again[at]) at++;
    fail("bytes", `toBuffer differs from byte ${at} (${again.length} vs ${buf.length} bytes)`);
  }

  // unsigned
  const ubytes = utx.toBuffer();
  if (ubytes.length !== j.unsigned_len)
    fail("unsigned", `${ubytes.length} unsigned bytes, expected ${j.unsigned_len}`);
  else if (!ubytes.equals(buf.subarray(0, j.unsigned_len)))
    fail("unsigned", "unsigned bytes are not the prefix of the signed bytes");

  // txid
  const txid = sha256(buf);
  if (hex(txid) !== j.txid) fail("txid", `sha256 ${hex(txid)}, expected ${j.txid}`);
  const cb58 = bintools.cb58Encode(Buffer.from(createHash("sha256").update(buf).digest()));
  if (cb58 !== j.txid_cb58) fail("txid", `cb58 ${cb58}, expected ${j.txid_cb58}`);

  // signer
  const msg = sha256(ubytes);
  const creds = tx.getCredentials();
  const ins = btx.getIns().concat(xins); // credential order, as sorted by toBuffer
  if (creds.length !== j.signers.length || creds.length !== ins.length) {
    fail("signer", `${creds.length} credentials, ${ins.length} inputs, ${j.signers.length} expected`);
  } else {
    const kp = new avm.KeyPair(j.hrp, "X");
    for (let i = 0; i < creds.length; i++) {
      if (creds[i].getCredentialID() !== avm.AVMConstants.SECPCREDENTIAL)
        fail("signer", `credential ${i} has type ${creds[i].getCredentialID()}`);
      const sigs = creds[i].sigArray;
      const want = j.signers[i];
      const nidx = ins[i].getInput().getSigIdxs().length;
      if (sigs.length !== want.length || sigs.length !== nidx) {
        fail("signer", `credential ${i}: ${sigs.length} signatures, ${nidx} sig indices, ${want.length} expected`);
        continue;
      }
      for (let k = 0; k < sigs.length; k++) {
        let got;
        try {
          got = hex(avm.KeyPair.addressFromPublicKey(kp.recover(msg, sigs[k].toBuffer())));
        } catch (e) {
          got = `(no key: ${e.message})`;
        }
        if (got !== want[k]) fail("signer", `credential ${i} signature ${k}: ${got}, expected ${want[k]}`);
      }
    }
  }

  // resign: the package signs the unsigned tx itself
  if (Array.isArray(j.keys) && creds.length === j.signers.length && ins.length === j.signers.length) {
    try {
      const kc = new avm.KeyChain(j.hrp, "X");
      for (const k of j.keys) kc.importKey(Buffer.from(k, "hex"));
      for (let i = 0; i < ins.length; i++) {
        const idxs = ins[i].getInput().getSigIdxs();
        for (let k = 0; k < idxs.length && k < j.signers[i].length; k++)
          idxs[k].setSource(Buffer.from(j.signers[i][k], "hex"));
      }
      const signed = utx.sign(kc).toBuffer();
      if (!signed.equals(buf)) {
        let at = 0;
        while (at < buf.length && at < signed.length && buf[at] === signed[at]) at++;
        fail("resign", `the package's signed tx differs from byte ${at}`);
      }
    } catch (e) {
      fail("resign", `the package could not sign: ${e.message}`);
    }
  } else {
    fail("resign", "no keys to sign with");
  }
  return done();
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (!line.trim()) continue;
    const bad = checkOne(line, lineNo);
    checked++;
    if (bad.length) {
      failedTxs++;
      mismatches += bad.length;
      for (const b of bad) process.stdout.write(`mismatch ${b}\n`);
    }
  }
  process.stdout.write(
    `oracle: ${checked} txs, ${mismatches} mismatches` +
      (failedTxs ? ` in ${failedTxs} txs` : "") +
      ` (avalanche@${version})\n`
  );
  if (checked < min) {
    process.stdout.write(`oracle: FAIL: ${checked} txs checked, at least ${min} needed\n`);
    process.exit(1);
  }
  process.exit(mismatches ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`check.js: ${e.stack || e}\n`);
  process.exit(1);
});
