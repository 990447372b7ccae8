"""Writes an attribute-dense solution package for benchmarks: TABLES tables of COLUMNS custom
nvarchar columns each, every column with the full set of child elements a Dataverse export
writes (as in the corpus' exports), and nothing else: no forms, views or ribbons. With the
defaults (300 x 80) customizations.xml is about 45 MB and compresses about 60:1.

    python make_dense_package.py OUT.zip [TABLES] [COLUMNS]
"""

import sys
import zipfile

SOLUTION = """<?xml version="1.0" encoding="utf-8"?>
<ImportExportXml version="9.2.24101.200" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <SolutionManifest>
    <UniqueName>DenseTables</UniqueName>
    <LocalizedNames><LocalizedName description="Dense tables" languagecode="1033" /></LocalizedNames>
    <Descriptions />
    <Version>1.0.0.0</Version>
    <Managed>1</Managed>
    <Publisher>
      <UniqueName>contoso</UniqueName>
      <LocalizedNames><LocalizedName description="Contoso" languagecode="1033" /></LocalizedNames>
      <Descriptions />
      <EMailAddress xsi:nil="true"></EMailAddress>
      <CustomizationPrefix>con</CustomizationPrefix>
      <CustomizationOptionValuePrefix>61230</CustomizationOptionValuePrefix>
    </Publisher>
    <RootComponents>{roots}</RootComponents>
    <MissingDependencies />
  </SolutionManifest>
</ImportExportXml>
"""

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>"""

COLUMN = """            <attribute PhysicalName="{schema}">
              <Type>nvarchar</Type>
              <Name>{logical}</Name>
              <LogicalName>{logical}</LogicalName>
              <RequiredLevel>none</RequiredLevel>
              <DisplayMask>ValidForAdvancedFind|ValidForForm|ValidForGrid</DisplayMask>
              <ImeMode>auto</ImeMode>
              <ValidForUpdateApi>1</ValidForUpdateApi>
              <ValidForReadApi>1</ValidForReadApi>
              <ValidForCreateApi>1</ValidForCreateApi>
              <IsCustomField>1</IsCustomField>
              <IsAuditEnabled>1</IsAuditEnabled>
              <IsSecured>0</IsSecured>
              <IntroducedVersion>1.0.0.0</IntroducedVersion>
              <IsCustomizable>1</IsCustomizable>
              <IsRenameable>1</IsRenameable>
              <CanModifySearchSettings>1</CanModifySearchSettings>
              <CanModifyRequirementLevelSettings>1</CanModifyRequirementLevelSettings>
              <CanModifyAdditionalSettings>1</CanModifyAdditionalSettings>
              <SourceType>0</SourceType>
              <IsGlobalFilterEnabled>0</IsGlobalFilterEnabled>
              <IsSortableEnabled>0</IsSortableEnabled>
              <CanModifyGlobalFilterSettings>1</CanModifyGlobalFilterSettings>
              <CanModifyIsSortableSettings>1</CanModifyIsSortableSettings>
              <IsDataSourceSecret>0</IsDataSourceSecret>
              <AutoNumberFormat></AutoNumberFormat>
              <Format>text</Format>
              <MaxLength>100</MaxLength>
              <Length>200</Length>
              <displaynames>
                <displayname description="{label}" languagecode="1033" />
              </displaynames>
              <Descriptions>
                <Description description="" languagecode="1033" />
              </Descriptions>
            </attribute>
"""


def table(index, columns):
    schema = f"con_Table{index:03}"
    logical = schema.lower()
    parts = [
        f'    <Entity>\n      <Name LocalizedName="Table {index}" OriginalName="Table {index}">{schema}</Name>\n'
        f'      <EntityInfo>\n        <entity Name="{schema}">\n'
        f'          <LocalizedNames><LocalizedName description="Table {index}" languagecode="1033" /></LocalizedNames>\n'
        f"          <attributes>\n"
    ]
    for column in range(columns):
        name = f"con_column{column:03}"
        parts.append(COLUMN.format(schema=f"con_Column{column:03}", logical=name, label=f"Column {column} of {logical}"))
    parts.append("          </attributes>\n        </entity>\n      </EntityInfo>\n    </Entity>\n")
    return "".join(parts)


def main():
    out = sys.argv[1]
    tables = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    columns = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    roots = "".join(f'<RootComponent type="1" schemaName="con_table{i:03}" behavior="0" />' for i in range(tables))
    body = ['<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <Entities>\n']
    body.extend(table(i, columns) for i in range(tables))
    body.append("  </Entities>\n  <Roles />\n  <Workflows />\n  <EntityRelationships />\n  <optionsets />\n"
                "  <Languages><Language>1033</Language></Languages>\n</ImportExportXml>\n")
    xml = "".join(body).encode("utf-8")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("solution.xml", SOLUTION.format(roots=roots))
        archive.writestr("customizations.xml", xml)
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
    compressed = archive_size(out)
    print(f"{out}: customizations.xml {len(xml) / 1e6:.1f} MB, {tables} tables x {columns} columns, "
          f"zip {compressed / 1e6:.2f} MB ({len(xml) / compressed:.0f}:1)")


def archive_size(path):
    import os
    return os.path.getsize(path)


if __name__ == "__main__":
    main()
