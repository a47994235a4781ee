#!/usr/bin/env node
// Validates Kubernetes manifests offline against the API's schemas (kubernetes-models, and
// @kubernetes-models/prometheus-operator for monitoring.coreos.com), strictly: a field the schema
// does not know is an error too, as `kubectl apply --validate=strict` would say.
//
//   node deploy/tools/validate-k8s.js FILE.yaml...    (or - for stdin, e.g. kubectl kustomize)
//   node deploy/tools/validate-k8s.js --json FILE...  the objects as a JSON array on stdout
//
// Exit 0 when every object is valid, 1 otherwise (one line per problem on stderr).
"use strict";

const fs = require("fs");
const YAML = require("yaml");

// Where each apiVersion's models live: the core API, then the Prometheus Operator's CRDs.
function modelFor(apiVersion, kind) {
  for (const pkg of ["kubernetes-models", "@kubernetes-models/prometheus-operator"]) {
    let group;
    try {
      group = require(`${pkg}/${apiVersion}`);
    } catch (e) {
      continue;
    }
    if (typeof group[kind] === "function") return group[kind];
  }
  return null;
}

// The schema validators are compiled ajv code that reads each property it knows by name and
// enumerates only maps (labels, data, limits). So a proxy that records reads finds the fields no
// schema asked about: in an object that was never enumerated, an unread key is unknown.
function tracked(value, path, records) {
  if (Array.isArray(value)) return value.map((item, i) => tracked(item, `${path}/${i}`, records));
  if (value === null || typeof value !== "object") return value;
  const record = { path, read: new Set(), enumerated: false, keys: Object.keys(value) };
  records.push(record);
  const target = {};
  for (const key of record.keys) target[key] = tracked(value[key], `${path}/${key}`, records);
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.get(t, key, receiver);
    },
    has(t, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.has(t, key);
    },
    ownKeys(t) {
      record.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

function unknownFields(records) {
  const unknown = [];
  for (const record of records) {
    if (record.enumerated) continue;
    for (const key of record.keys) {
      const path = `${record.path}/${key}`;
      // Report the outermost unknown field only, not everything under it.
      if (!record.read.has(key) && !unknown.some((p) => path.startsWith(p + "/"))) unknown.push(path);
    }
  }
  return unknown;
}

function validate(object, where) {
  const problems = [];
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return [`${where}: not an object`];
  }
  const { apiVersion, kind } = object;
  const name = object.metadata && object.metadata.name;
  const label = `${where}: ${kind}/${name}`;
  if (!name) problems.push(`${label}: metadata.name is missing`);
  const Model = modelFor(apiVersion, kind);
  if (!Model) return [...problems, `${label}: unknown kind ${kind} in apiVersion ${apiVersion}`];
  const records = [];
  try {
    // The model's validate() runs the schema on `this`: here the tracking proxy.
    Model.prototype.validate.call(tracked(object, "", records));
  } catch (error) {
    const details = error.errors || [];
    if (details.length === 0) problems.push(`${label}: ${error.message}`);
    for (const d of details) {
      problems.push(`${label}: ${d.instancePath || "/"} ${d.message}` +
                    (d.params && d.params.allowedValues ? ` (${d.params.allowedValues.join(", ")})` : ""));
    }
  }
  for (const path of unknownFields(records)) problems.push(`${label}: unknown field ${path}`);
  return problems;
}

function main(argv) {
  const json = argv.includes("--json");
  const files = argv.filter((a) => a !== "--json");
  if (files.length === 0) {
    console.error("usage: validate-k8s.js [--json] FILE.yaml... (- for stdin)");
    return 2;
  }
  const objects = [];
  const problems = [];
  for (const file of files) {
    const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    // Strict YAML: a duplicate key or a syntax error is a problem, not a silent last-one-wins.
    const docs = YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
    docs.forEach((doc, i) => {
      const where = `${file === "-" ? "stdin" : file}#${i + 1}`;
      for (const e of [...doc.errors, ...doc.warnings]) problems.push(`${where}: ${e.message}`);
      if (doc.errors.length) return;
      const object = doc.toJS();
      if (object === null) return;  // an empty document (a trailing ---)
      const found = validate(object, where);
      problems.push(...found);
      if (found.length === 0) console.error(`ok ${where}: ${object.kind}/${object.metadata.name}`);
      objects.push(object);
    });
  }
  for (const p of problems) console.error(`error ${p}`);
  if (json) process.stdout.write(JSON.stringify(objects) + "\n");
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
