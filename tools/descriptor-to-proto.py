#!/usr/bin/env python3
"""One-off helper: render the shared FileDescriptorSet (as buf JSON) into .proto sources.

Usage: buf build <contract.binpb> -o desc.json#format=json && python3 tools/descriptor-to-proto.py desc.json proto/
Kept in the repo so the origin of proto/ is reproducible; proto/ is the source of truth afterwards.
"""
import json, os, sys

SCALAR = {"TYPE_STRING": "string", "TYPE_INT64": "int64", "TYPE_INT32": "int32", "TYPE_BOOL": "bool",
          "TYPE_DOUBLE": "double", "TYPE_FLOAT": "float", "TYPE_UINT64": "uint64", "TYPE_UINT32": "uint32", "TYPE_BYTES": "bytes"}
OPTS = [("javaPackage", "java_package", str), ("javaOuterClassname", "java_outer_classname", str),
        ("javaMultipleFiles", "java_multiple_files", bool), ("goPackage", "go_package", str),
        ("objcClassPrefix", "objc_class_prefix", str), ("csharpNamespace", "csharp_namespace", str),
        ("phpNamespace", "php_namespace", str), ("phpMetadataNamespace", "php_metadata_namespace", str),
        ("rubyPackage", "ruby_package", str)]

def tname(f, pkg):
    if f["type"] in ("TYPE_MESSAGE", "TYPE_ENUM"):
        n = f["typeName"].lstrip(".")
        return n[len(pkg) + 1:] if n.startswith(pkg + ".") else n
    return SCALAR[f["type"]]

def render(f):
    pkg = f["package"]
    out = ['syntax = "proto3";', "", f"package {pkg};", ""]
    for d in f.get("dependency", []):
        out.append(f'import "{d}";')
    if f.get("dependency"):
        out.append("")
    for key, name, typ in OPTS:
        if key in f.get("options", {}):
            v = f["options"][key]
            out.append(f"option {name} = {'true' if v is True else json.dumps(v)};")
    out.append("")
    for e in f.get("enumType", []):
        out.append(f"enum {e['name']} {{")
        for v in e["value"]:
            out.append(f"  {v['name']} = {v.get('number', 0)};")
        out += ["}", ""]
    for m in f.get("messageType", []):
        out.append(f"message {m['name']} {{")
        for x in m.get("field", []):
            rep = "repeated " if x.get("label") == "LABEL_REPEATED" else ""
            out.append(f"  {rep}{tname(x, pkg)} {x['name']} = {x['number']};")
        out += ["}", ""]
    for s in f.get("service", []):
        out.append(f"service {s['name']} {{")
        for r in s["method"]:
            st = "stream " if r.get("serverStreaming") else ""
            i = r["inputType"].lstrip(".")[len(pkg) + 1:]
            o = r["outputType"].lstrip(".")[len(pkg) + 1:]
            out.append(f"  rpc {r['name']}({i}) returns ({st}{o});")
        out += ["}", ""]
    return "\n".join(out).rstrip() + "\n"

desc = json.load(open(sys.argv[1]))
for f in desc["file"]:
    if f["name"].startswith("google/"):
        continue
    path = os.path.join(sys.argv[2], f["name"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(render(f))
    print("wrote", path)
