"""What a governance team would write instead of solguard: a Python pipeline that reads each
solution zip with zipfile, parses solution.xml with ElementTree and streams customizations.xml
with ElementTree.iterparse (elements cleared as they are read), then applies four rules written
in Rego with Microsoft's regorus engine (compiled once, reused for every package). Prints one
JSON line per package: its solution, version and the rules' violations.

    python peer.py PACKAGE.zip...
"""

import json
import sys
import zipfile
import xml.etree.ElementTree as ET

import regorus

POLICY = r"""
package solution

import rego.v1

version_parts := split(input.version, ".")

violations contains "version-format" if {
    count(version_parts) != 4
}

violations contains "version-format" if {
    some part in version_parts
    not regex.match(`^[0-9]+$`, part)
}

violations contains "publisher-default" if {
    startswith(lower(input.publisher), "default")
}

violations contains sprintf("prefix:%s.%s", [a.entity, a.name]) if {
    some a in input.attributes
    a.custom
    not startswith(a.name, concat("", [input.prefix, "_"]))
}

violations contains "no-components" if {
    count(input.entities) == 0
    count(input.root_components) == 0
}
"""


def local(tag):
    return tag.rsplit("}", 1)[-1]


def manifest(archive):
    root = ET.fromstring(archive.read("solution.xml"))
    found = {"unique_name": "", "version": "", "publisher": "", "prefix": "", "root_components": []}
    for element in root.iter():
        name = local(element.tag)
        if name == "UniqueName" and not found["unique_name"]:
            found["unique_name"] = (element.text or "").strip()
        elif name == "Version" and not found["version"]:
            found["version"] = (element.text or "").strip()
        elif name == "Publisher":
            for child in element:
                if local(child.tag) == "UniqueName":
                    found["publisher"] = (child.text or "").strip()
                elif local(child.tag) == "CustomizationPrefix":
                    found["prefix"] = (child.text or "").strip()
        elif name == "RootComponent":
            found["root_components"].append(element.get("schemaName") or element.get("id") or "")
    return found


def customizations(archive):
    """Entities and their attributes, streamed; every element is cleared once read."""
    entities, attributes = [], []
    if "customizations.xml" not in archive.namelist():
        return entities, attributes
    entity = None
    with archive.open("customizations.xml") as stream:
        for event, element in ET.iterparse(stream, events=("start", "end")):
            name = local(element.tag)
            if event == "start":
                if name == "entity":
                    entity = element.get("Name") or ""
                    entities.append(entity)
                continue
            if name == "attribute" and entity is not None:
                logical, custom = "", False
                for child in element:
                    child_name = local(child.tag)
                    if child_name == "LogicalName":
                        logical = (child.text or "").strip()
                    elif child_name == "IsCustomField":
                        custom = (child.text or "").strip() == "1"
                attributes.append({"entity": entity, "name": logical, "custom": custom})
                element.clear()
            elif name in ("entity", "Entity"):
                element.clear()
    return entities, attributes


def main(paths):
    engine = regorus.Engine()
    engine.add_policy("solution.rego", POLICY)
    out = sys.stdout
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            facts = manifest(archive)
            facts["entities"], facts["attributes"] = customizations(archive)
        engine.set_input_json(json.dumps(facts))
        violations = engine.eval_rule("data.solution.violations")
        out.write(json.dumps({
            "path": path,
            "unique_name": facts["unique_name"],
            "version": facts["version"],
            "violations": sorted(violations),
        }))
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
