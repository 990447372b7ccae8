//! Generates a large, realistic solution package for the reader benchmark and the
//! `make_large_package` example: one generator, included by both with `#[path]`.
//!
//! The `customizations.xml` it writes has the shape of a real Dataverse export (indented like
//! one, attributes with their full element lists, local and global option sets, forms, saved
//! queries, ribbons, relationships) and is streamed into the zip entity by entity, so a 200 MB
//! entry never sits in memory. Names, labels, GUIDs and descriptions vary per entity and
//! attribute (counters plus a fixed-seed LCG), so the entry compresses like a real export
//! (tens to one) and stays well inside the reader's 300:1 compression-ratio guard. The output
//! is deterministic: the same size gives the same bytes.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Name of the generated entry that carries nearly all of the package's bytes.
pub const CUSTOMIZATIONS: &str = "customizations.xml";

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    /// Uncompressed size of `customizations.xml`.
    pub uncompressed: u64,
    /// Compressed size of `customizations.xml` inside the zip.
    pub compressed: u64,
    /// Size of the whole zip file.
    pub zip_bytes: u64,
    pub entities: usize,
    pub attributes: usize,
    /// Local option sets (one per picklist or two-option attribute) plus global ones.
    pub option_sets: usize,
    pub relationships: usize,
}

impl Generated {
    /// Uncompressed over compressed size of `customizations.xml`.
    pub fn ratio(&self) -> f64 {
        self.uncompressed as f64 / self.compressed.max(1) as f64
    }

    /// One line on what was generated: sizes, ratio and counts.
    pub fn describe(&self) -> String {
        const MIB: f64 = (1 << 20) as f64;
        format!(
            "{CUSTOMIZATIONS} {} bytes ({:.1} MiB) uncompressed, {} bytes ({:.2} MiB) compressed, \
             ratio {:.1}:1; zip {} bytes; {} entities, {} attributes, {} option sets, {} relationships",
            self.uncompressed,
            self.uncompressed as f64 / MIB,
            self.compressed,
            self.compressed as f64 / MIB,
            self.ratio(),
            self.zip_bytes,
            self.entities,
            self.attributes,
            self.option_sets,
            self.relationships,
        )
    }
}

const SOLUTION_XML: &str = r#"<ImportExportXml version="9.2.24101.200" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SolutionManifest><UniqueName>BenchSolution</UniqueName><LocalizedNames><LocalizedName description="Bench" languagecode="1033" /></LocalizedNames><Descriptions /><Version>1.0.0.0</Version><Managed>0</Managed><Publisher><UniqueName>bench</UniqueName><LocalizedNames><LocalizedName description="Bench" languagecode="1033" /></LocalizedNames><CustomizationPrefix>new</CustomizationPrefix><CustomizationOptionValuePrefix>10000</CustomizationOptionValuePrefix></Publisher><RootComponents><RootComponent type="1" schemaName="new_thing0" behavior="0" /></RootComponents><MissingDependencies /></SolutionManifest></ImportExportXml>"#;

const CONTENT_TYPES_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>"#;

/// Bytes gathered before they are handed to the zip writer.
const CHUNK_BYTES: usize = 256 * 1024;
/// Global option sets written after the entities.
const GLOBAL_OPTION_SETS: usize = 40;
/// Rough size of one `<EntityRelationship>` (one per entity after the first), used to stop
/// writing entities early enough that the whole entry lands near the requested size.
const RELATIONSHIP_BYTES_ESTIMATE: u64 = 1_300;
/// Rough size of the global option sets and the closing collections.
const TAIL_BYTES_ESTIMATE: u64 = 48 * 1024;

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "account", "approval", "asset", "audit", "balance", "batch", "billing", "branch", "budget",
    "campaign", "case", "channel", "claim", "client", "contract", "cost", "country", "credit",
    "customer", "date", "delivery", "department", "device", "discount", "document", "due",
    "employee", "estimate", "event", "expense", "field", "forecast", "grade", "invoice", "item",
    "lead", "level", "license", "location", "margin", "member", "milestone", "note", "number",
    "order", "owner", "partner", "payment", "period", "phase", "plan", "policy", "price",
    "priority", "product", "project", "quantity", "quote", "rate", "reason", "region",
    "renewal", "request", "resource", "revenue", "review", "risk", "schedule", "score",
    "segment", "service", "shipment", "site", "source", "stage", "status", "supplier", "target",
    "task", "tax", "team", "term", "territory", "ticket", "total", "type", "unit", "vendor",
    "version", "warranty", "weight", "zone",
];

/// Attribute types in roughly the proportions of real custom tables.
#[rustfmt::skip]
const TYPES: &[&str] = &[
    "nvarchar", "nvarchar", "nvarchar", "nvarchar", "nvarchar", "picklist", "picklist", "bit",
    "int", "decimal", "money", "datetime", "datetime", "lookup", "ntext", "float",
];

/// A fixed-seed linear congruential generator: cheap, deterministic variety.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }

    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`.
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{{{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}}}",
            a & 0xFFFF_FFFF,
            (a >> 32) & 0xFFFF,
            b & 0xFFF,
            0x8000 | ((b >> 12) & 0x3FFF),
            (b >> 26) & 0xFFFF_FFFF_FFFF
        )
    }

    /// Four hex digits.
    fn tag(&mut self) -> String {
        format!("{:04x}", self.next() & 0xFFFF)
    }

    /// A sentence of `min..=max` words, empty about a third of the time as in real exports.
    fn description(&mut self, min: usize, max: usize) -> String {
        if self.below(3) == 0 {
            return String::new();
        }
        let count = min + self.below(max - min + 1);
        let mut text = String::new();
        for i in 0..count {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.word());
        }
        text
    }
}

/// Appends formatted text to a `String` (which cannot fail).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {
        $out.write_fmt(format_args!($($arg)*)).expect("formatting into a String cannot fail")
    };
}

/// Collects generated text and hands it to the zip entry in chunks, counting the bytes.
struct Sink<W: Write> {
    out: W,
    buf: String,
    written: u64,
}

impl<W: Write> Sink<W> {
    fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(self.buf.as_bytes())?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// Counts of what the generated XML holds.
#[derive(Default)]
struct Counts {
    entities: usize,
    attributes: usize,
    option_sets: usize,
    relationships: usize,
}

/// Writes a solution zip to `path` whose `customizations.xml` is about `target_bytes` long.
pub fn write_package(path: &Path, target_bytes: u64) -> io::Result<Generated> {
    let file = File::create(path)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);

    zip.start_file("[Content_Types].xml", deflated)?;
    zip.write_all(CONTENT_TYPES_XML.as_bytes())?;
    zip.start_file("solution.xml", deflated)?;
    zip.write_all(SOLUTION_XML.as_bytes())?;
    zip.start_file(CUSTOMIZATIONS, deflated)?;
    let counts = {
        let mut sink = Sink {
            out: &mut zip,
            buf: String::with_capacity(CHUNK_BYTES + 256 * 1024),
            written: 0,
        };
        let counts = write_customizations(&mut sink, target_bytes)?;
        sink.flush()?;
        counts
    };
    let mut out = zip.finish()?;
    out.flush()?;
    drop(out);

    let zip_bytes = std::fs::metadata(path)?.len();
    let mut archive = ZipArchive::new(File::open(path)?)?;
    let entry = archive.by_name(CUSTOMIZATIONS)?;
    Ok(Generated {
        uncompressed: entry.size(),
        compressed: entry.compressed_size(),
        zip_bytes,
        entities: counts.entities,
        attributes: counts.attributes,
        option_sets: counts.option_sets,
        relationships: counts.relationships,
    })
}

fn write_customizations<W: Write>(sink: &mut Sink<W>, target: u64) -> io::Result<Counts> {
    let mut rng = Lcg(0x5EED_2024_0BAD_F00D);
    let mut counts = Counts::default();
    sink.buf
        .push_str("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    sink.buf.push_str(
        "<ImportExportXml xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n  <Entities>\n",
    );
    loop {
        let tail = TAIL_BYTES_ESTIMATE + counts.entities as u64 * RELATIONSHIP_BYTES_ESTIMATE;
        if counts.entities > 0 && sink.len() + tail >= target {
            break;
        }
        write_entity(&mut sink.buf, &mut rng, counts.entities, &mut counts);
        counts.entities += 1;
        sink.maybe_flush()?;
    }
    sink.buf.push_str("  </Entities>\n  <Roles />\n  <Workflows />\n  <FieldSecurityProfiles />\n  <Templates />\n  <EntityMaps />\n  <EntityRelationships>\n");
    for i in 1..counts.entities {
        let parent = rng.below(i);
        write_relationship(&mut sink.buf, &mut rng, i, parent);
        counts.relationships += 1;
        sink.maybe_flush()?;
    }
    sink.buf
        .push_str("  </EntityRelationships>\n  <OrganizationSettings />\n  <optionsets>\n");
    for i in 0..GLOBAL_OPTION_SETS {
        write_global_option_set(&mut sink.buf, &mut rng, i);
        counts.option_sets += 1;
    }
    sink.buf.push_str("  </optionsets>\n  <CustomControls />\n  <EntityDataProviders />\n  <Languages>\n    <Language>1033</Language>\n  </Languages>\n</ImportExportXml>\n");
    Ok(counts)
}

/// One field of an entity, as the generator decided it.
struct Field {
    schema: String,
    logical: String,
    label: String,
    kind: &'static str,
}

fn write_entity(out: &mut String, rng: &mut Lcg, index: usize, counts: &mut Counts) {
    let logical = format!("new_thing{index}");
    let label = format!("Thing {index} {}", rng.tag());
    let attribute_count = 10 + rng.below(51);
    let mut fields = Vec::with_capacity(attribute_count);
    fields.push(Field {
        schema: "new_Name".into(),
        logical: "new_name".into(),
        label: "Name".into(),
        kind: "nvarchar",
    });
    for n in 1..attribute_count {
        let word = rng.word();
        fields.push(Field {
            schema: format!("new_{word}{n}"),
            logical: format!("new_{word}{n}"),
            label: format!("{} {n} {}", capitalised(word), rng.tag()),
            kind: TYPES[rng.below(TYPES.len())],
        });
    }

    put!(
        out,
        r#"    <Entity>
      <Name LocalizedName="{label}" OriginalName="{label}">{logical}</Name>
      <EntityInfo>
        <entity Name="{logical}">
          <LocalizedNames>
            <LocalizedName description="{label}" languagecode="1033" />
          </LocalizedNames>
          <LocalizedCollectionNames>
            <LocalizedCollectionName description="{label}s" languagecode="1033" />
          </LocalizedCollectionNames>
          <Descriptions>
            <Description description="{}" languagecode="1033" />
          </Descriptions>
          <attributes>
"#,
        rng.description(4, 14)
    );
    for field in &fields {
        write_attribute(out, rng, &logical, field);
        counts.attributes += 1;
        if matches!(field.kind, "picklist" | "bit") {
            counts.option_sets += 1;
        }
    }
    put!(
        out,
        r#"          </attributes>
          <EntitySetName>{logical}s</EntitySetName>
          <IsDuplicateCheckSupported>0</IsDuplicateCheckSupported>
          <IsBusinessProcessEnabled>{}</IsBusinessProcessEnabled>
          <IsRequiredOffline>0</IsRequiredOffline>
          <IsInteractionCentricEnabled>0</IsInteractionCentricEnabled>
          <IsCollaboration>0</IsCollaboration>
          <AutoRouteToOwnerQueue>0</AutoRouteToOwnerQueue>
          <IsConnectionsEnabled>0</IsConnectionsEnabled>
          <EntityColor>#{:06x}</EntityColor>
          <IsDocumentManagementEnabled>0</IsDocumentManagementEnabled>
          <AutoCreateAccessTeams>0</AutoCreateAccessTeams>
          <IsOneNoteIntegrationEnabled>0</IsOneNoteIntegrationEnabled>
          <IsKnowledgeManagementEnabled>0</IsKnowledgeManagementEnabled>
          <IsSLAEnabled>0</IsSLAEnabled>
          <IsBPFEntity>0</IsBPFEntity>
          <OwnershipTypeMask>UserOwned</OwnershipTypeMask>
          <IsAuditEnabled>{}</IsAuditEnabled>
          <IsActivity>0</IsActivity>
          <ActivityTypeMask>CommunicationActivity</ActivityTypeMask>
          <IsMailMergeEnabled>1</IsMailMergeEnabled>
          <IsVisibleInMobile>0</IsVisibleInMobile>
          <IsVisibleInMobileClient>1</IsVisibleInMobileClient>
          <IsReadOnlyInMobileClient>0</IsReadOnlyInMobileClient>
          <IsOfflineInMobileClient>0</IsOfflineInMobileClient>
          <DaysSinceRecordLastModified>0</DaysSinceRecordLastModified>
          <MobileOfflineFilters></MobileOfflineFilters>
          <IsMapiGridEnabled>1</IsMapiGridEnabled>
          <IsReadingPaneEnabled>1</IsReadingPaneEnabled>
          <IsQuickCreateEnabled>{}</IsQuickCreateEnabled>
          <SyncToExternalSearchIndex>0</SyncToExternalSearchIndex>
          <IntroducedVersion>1.0.{}.0</IntroducedVersion>
          <IsCustomizable>1</IsCustomizable>
          <IsRenameable>1</IsRenameable>
          <IsMappable>1</IsMappable>
          <CanModifyAuditSettings>1</CanModifyAuditSettings>
          <CanModifyMobileVisibility>1</CanModifyMobileVisibility>
          <CanModifyConnectionSettings>1</CanModifyConnectionSettings>
          <CanModifyDuplicateDetectionSettings>1</CanModifyDuplicateDetectionSettings>
          <CanCreateAttributes>1</CanCreateAttributes>
          <CanCreateForms>1</CanCreateForms>
          <CanCreateCharts>1</CanCreateCharts>
          <CanCreateViews>1</CanCreateViews>
          <EnforceStateTransitions>0</EnforceStateTransitions>
          <EntityHelpUrlEnabled>0</EntityHelpUrlEnabled>
          <ChangeTrackingEnabled>{}</ChangeTrackingEnabled>
        </entity>
      </EntityInfo>
"#,
        rng.below(2),
        rng.next() & 0xFF_FFFF,
        rng.below(2),
        rng.below(2),
        rng.below(40),
        rng.below(2),
    );
    write_form(out, rng, &fields);
    write_saved_queries(out, rng, &logical, &label, &fields);
    put!(
        out,
        r#"      <RibbonDiffXml>
        <CustomActions />
        <Templates>
          <RibbonTemplates Id="Mscrm.Templates"></RibbonTemplates>
        </Templates>
        <CommandDefinitions />
        <RuleDefinitions>
          <TabDisplayRules />
          <DisplayRules />
          <EnableRules />
        </RuleDefinitions>
        <LocLabels />
      </RibbonDiffXml>
    </Entity>
"#
    );
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn write_attribute(out: &mut String, rng: &mut Lcg, entity: &str, field: &Field) {
    let required = ["none", "none", "none", "recommended", "required"][rng.below(5)];
    put!(
        out,
        r#"            <attribute PhysicalName="{}">
              <Type>{}</Type>
              <Name>{}</Name>
              <LogicalName>{}</LogicalName>
              <RequiredLevel>{required}</RequiredLevel>
              <DisplayMask>ValidForAdvancedFind|ValidForForm|ValidForGrid</DisplayMask>
              <ImeMode>auto</ImeMode>
              <ValidForUpdateApi>1</ValidForUpdateApi>
              <ValidForReadApi>1</ValidForReadApi>
              <ValidForCreateApi>1</ValidForCreateApi>
              <IsCustomField>1</IsCustomField>
              <IsAuditEnabled>{}</IsAuditEnabled>
              <IsSecured>{}</IsSecured>
              <IntroducedVersion>1.0.{}.0</IntroducedVersion>
              <IsCustomizable>1</IsCustomizable>
              <IsRenameable>1</IsRenameable>
              <CanModifySearchSettings>1</CanModifySearchSettings>
              <CanModifyRequirementLevelSettings>1</CanModifyRequirementLevelSettings>
              <CanModifyAdditionalSettings>1</CanModifyAdditionalSettings>
              <SourceType>0</SourceType>
              <IsGlobalFilterEnabled>0</IsGlobalFilterEnabled>
              <IsSortableEnabled>{}</IsSortableEnabled>
              <CanModifyGlobalFilterSettings>1</CanModifyGlobalFilterSettings>
              <CanModifyIsSortableSettings>1</CanModifyIsSortableSettings>
              <IsDataSourceSecret>0</IsDataSourceSecret>
              <AutoNumberFormat></AutoNumberFormat>
              <IsSearchable>{}</IsSearchable>
              <IsFilterable>{}</IsFilterable>
              <IsRetrievable>{}</IsRetrievable>
              <IsLocalizable>0</IsLocalizable>
"#,
        field.schema,
        field.kind,
        field.logical,
        field.logical,
        rng.below(2),
        rng.below(8) / 7,
        rng.below(40),
        rng.below(2),
        rng.below(2),
        rng.below(2),
        rng.below(2),
    );
    match field.kind {
        "nvarchar" => {
            let max = [100, 100, 200, 250, 500, 850, 1000, 4000][rng.below(8)];
            put!(
                out,
                "              <Format>{}</Format>\n              <MaxLength>{max}</MaxLength>\n              <Length>{}</Length>\n",
                ["text", "text", "text", "email", "url", "phone"][rng.below(6)],
                max * 2
            );
        }
        "ntext" => put!(
            out,
            "              <Format>textarea</Format>\n              <MaxLength>{}</MaxLength>\n",
            [2000, 4000, 10000, 100000][rng.below(4)]
        ),
        "int" => put!(
            out,
            "              <Format>none</Format>\n              <MinValue>-2147483648</MinValue>\n              <MaxValue>2147483647</MaxValue>\n"
        ),
        "decimal" | "float" | "money" => put!(
            out,
            "              <MinValue>-100000000000</MinValue>\n              <MaxValue>100000000000</MaxValue>\n              <Accuracy>{}</Accuracy>\n",
            rng.below(5)
        ),
        "datetime" => put!(
            out,
            "              <Format>{}</Format>\n              <CanChangeDateTimeBehavior>1</CanChangeDateTimeBehavior>\n              <Behavior>{}</Behavior>\n",
            ["date", "datetime"][rng.below(2)],
            1 + rng.below(3)
        ),
        "lookup" => put!(
            out,
            "              <LookupStyle>single</LookupStyle>\n              <LookupTypes />\n"
        ),
        "picklist" => {
            put!(
                out,
                "              <AppDefaultValue>-1</AppDefaultValue>\n              <optionset Name=\"{entity}_{}\">\n                <OptionSetType>picklist</OptionSetType>\n                <IntroducedVersion>1.0.0.0</IntroducedVersion>\n                <IsCustomizable>1</IsCustomizable>\n                <displaynames>\n                  <displayname description=\"{}\" languagecode=\"1033\" />\n                </displaynames>\n                <Descriptions>\n                  <Description description=\"\" languagecode=\"1033\" />\n                </Descriptions>\n                <options>\n",
                field.logical,
                field.label
            );
            for k in 0..3 + rng.below(6) {
                put!(
                    out,
                    "                  <option value=\"{}\" ExternalValue=\"\" IsHidden=\"0\">\n                    <labels>\n                      <label description=\"{} {}\" languagecode=\"1033\" />\n                    </labels>\n                  </option>\n",
                    100_000_000 + k,
                    capitalised(rng.word()),
                    rng.tag()
                );
            }
            out.push_str("                </options>\n              </optionset>\n");
        }
        "bit" => put!(
            out,
            "              <AppDefaultValue>0</AppDefaultValue>\n              <optionset Name=\"{entity}_{}\">\n                <OptionSetType>bit</OptionSetType>\n                <IntroducedVersion>1.0.0.0</IntroducedVersion>\n                <IsCustomizable>1</IsCustomizable>\n                <displaynames>\n                  <displayname description=\"{}\" languagecode=\"1033\" />\n                </displaynames>\n                <Descriptions>\n                  <Description description=\"\" languagecode=\"1033\" />\n                </Descriptions>\n                <options>\n                  <option value=\"1\">\n                    <labels>\n                      <label description=\"Yes\" languagecode=\"1033\" />\n                    </labels>\n                  </option>\n                  <option value=\"0\">\n                    <labels>\n                      <label description=\"No\" languagecode=\"1033\" />\n                    </labels>\n                  </option>\n                </options>\n              </optionset>\n",
            field.logical,
            field.label
        ),
        _ => {}
    }
    put!(
        out,
        r#"              <displaynames>
                <displayname description="{}" languagecode="1033" />
              </displaynames>
              <Descriptions>
                <Description description="{}" languagecode="1033" />
              </Descriptions>
            </attribute>
"#,
        field.label,
        rng.description(3, 16)
    );
}

/// A main form with one cell per field, a few fields to a section.
fn write_form(out: &mut String, rng: &mut Lcg, fields: &[Field]) {
    put!(
        out,
        r#"      <FormXml>
        <forms type="main">
          <systemform>
            <formid>{}</formid>
            <IntroducedVersion>1.0.0.0</IntroducedVersion>
            <FormPresentation>1</FormPresentation>
            <FormActivationState>1</FormActivationState>
            <form headerdensity="HighWithControls">
              <tabs>
                <tab name="general" verticallayout="true" id="{}" IsUserDefined="0">
                  <labels>
                    <label description="General" languagecode="1033" />
                  </labels>
                  <columns>
                    <column width="100%">
                      <sections>
"#,
        rng.guid(),
        rng.guid()
    );
    for (s, section) in fields.chunks(8).enumerate() {
        put!(
            out,
            r#"                        <section name="section_{s}" showlabel="true" showbar="false" columns="1" IsUserDefined="0" id="{}">
                          <labels>
                            <label description="{}" languagecode="1033" />
                          </labels>
                          <rows>
"#,
            rng.guid(),
            capitalised(rng.word())
        );
        for field in section {
            put!(
                out,
                r#"                            <row>
                              <cell id="{}" showlabel="true" locklevel="0">
                                <labels>
                                  <label description="{}" languagecode="1033" />
                                </labels>
                                <control id="{}" classid="{{4273EDBD-AC1D-40d3-9FB2-095C621B552D}}" datafieldname="{}" disabled="false" />
                              </cell>
                            </row>
"#,
                rng.guid(),
                field.label,
                field.logical,
                field.logical
            );
        }
        out.push_str("                          </rows>\n                        </section>\n");
    }
    put!(
        out,
        r#"                      </sections>
                    </column>
                  </columns>
                </tab>
              </tabs>
            </form>
            <IsCustomizable>1</IsCustomizable>
            <CanBeDeleted>1</CanBeDeleted>
            <LocalizedNames>
              <LocalizedName description="Information" languagecode="1033" />
            </LocalizedNames>
          </systemform>
        </forms>
      </FormXml>
"#
    );
}

/// Four views, each showing a handful of the entity's fields.
fn write_saved_queries(
    out: &mut String,
    rng: &mut Lcg,
    logical: &str,
    label: &str,
    fields: &[Field],
) {
    out.push_str("      <SavedQueries>\n        <savedqueries>\n");
    for (q, (name, query_type)) in [
        ("Active", 0),
        ("Inactive", 0),
        ("Quick Find Active", 4),
        ("Lookup View", 64),
    ]
    .into_iter()
    .enumerate()
    {
        let shown: Vec<&Field> = (0..2 + rng.below(5))
            .map(|_| &fields[rng.below(fields.len())])
            .collect();
        put!(
            out,
            r#"          <savedquery>
            <IsCustomizable>1</IsCustomizable>
            <CanBeDeleted>{}</CanBeDeleted>
            <isquickfindquery>{}</isquickfindquery>
            <isprivate>0</isprivate>
            <isdefault>{}</isdefault>
            <savedqueryid>{}</savedqueryid>
            <layoutxml>
              <grid name="resultset" jump="new_name" select="1" icon="1" preview="1">
                <row name="result" id="{logical}id">
                  <cell name="new_name" width="300" />
"#,
            u8::from(q > 1),
            u8::from(query_type == 4),
            u8::from(q != 1),
            rng.guid()
        );
        for field in &shown {
            put!(
                out,
                "                  <cell name=\"{}\" width=\"{}\" />\n",
                field.logical,
                100 + 25 * rng.below(8)
            );
        }
        put!(
            out,
            r#"                </row>
              </grid>
            </layoutxml>
            <querytype>{query_type}</querytype>
            <fetchxml>
              <fetch version="1.0" mapping="logical">
                <entity name="{logical}">
                  <attribute name="new_name" />
"#
        );
        for field in &shown {
            put!(
                out,
                "                  <attribute name=\"{}\" />\n",
                field.logical
            );
        }
        put!(
            out,
            r#"                  <order attribute="new_name" descending="false" />
                  <filter type="and">
                    <condition attribute="statecode" operator="eq" value="{}" />
                  </filter>
                </entity>
              </fetch>
            </fetchxml>
            <IntroducedVersion>1.0.0.0</IntroducedVersion>
            <LocalizedNames>
              <LocalizedName description="{name} {label}s" languagecode="1033" />
            </LocalizedNames>
          </savedquery>
"#,
            u8::from(q == 1)
        );
    }
    out.push_str("        </savedqueries>\n      </SavedQueries>\n");
}

fn write_relationship(out: &mut String, rng: &mut Lcg, child: usize, parent: usize) {
    put!(
        out,
        r#"    <EntityRelationship Name="new_thing{child}_new_thing{parent}_{}">
      <EntityRelationshipType>OneToMany</EntityRelationshipType>
      <IsCustomizable>1</IsCustomizable>
      <IntroducedVersion>1.0.{}.0</IntroducedVersion>
      <IsHierarchical>0</IsHierarchical>
      <ReferencingEntityName>new_thing{child}</ReferencingEntityName>
      <ReferencedEntityName>new_thing{parent}</ReferencedEntityName>
      <CascadeAssign>NoCascade</CascadeAssign>
      <CascadeDelete>{}</CascadeDelete>
      <CascadeArchive>RemoveLink</CascadeArchive>
      <CascadeReparent>NoCascade</CascadeReparent>
      <CascadeShare>NoCascade</CascadeShare>
      <CascadeUnshare>NoCascade</CascadeUnshare>
      <CascadeRollupView>NoCascade</CascadeRollupView>
      <IsValidForAdvancedFind>1</IsValidForAdvancedFind>
      <ReferencingAttributeName>new_thing{parent}id</ReferencingAttributeName>
      <RelationshipDescription>
        <Descriptions>
          <Description description="{}" languagecode="1033" />
        </Descriptions>
      </RelationshipDescription>
      <EntityRelationshipRoles>
        <EntityRelationshipRole>
          <NavPaneDisplayOption>UseCollectionName</NavPaneDisplayOption>
          <NavPaneArea>Details</NavPaneArea>
          <NavPaneOrder>{}</NavPaneOrder>
          <NavigationPropertyName>new_thing{parent}id_{}</NavigationPropertyName>
          <RelationshipRoleType>1</RelationshipRoleType>
        </EntityRelationshipRole>
        <EntityRelationshipRole>
          <NavigationPropertyName>new_thing{child}_children</NavigationPropertyName>
          <RelationshipRoleType>0</RelationshipRoleType>
        </EntityRelationshipRole>
      </EntityRelationshipRoles>
    </EntityRelationship>
"#,
        rng.tag(),
        rng.below(40),
        ["RemoveLink", "Restrict", "Cascade"][rng.below(3)],
        rng.description(3, 10),
        10_000 + rng.below(90_000),
        rng.tag()
    );
}

fn write_global_option_set(out: &mut String, rng: &mut Lcg, index: usize) {
    put!(
        out,
        r#"    <optionset Name="new_global{index}_{}" localizedName="Global {index}">
      <OptionSetType>picklist</OptionSetType>
      <IsGlobal>1</IsGlobal>
      <IntroducedVersion>1.0.0.0</IntroducedVersion>
      <IsCustomizable>1</IsCustomizable>
      <displaynames>
        <displayname description="Global {index} {}" languagecode="1033" />
      </displaynames>
      <Descriptions>
        <Description description="{}" languagecode="1033" />
      </Descriptions>
      <options>
"#,
        rng.tag(),
        capitalised(rng.word()),
        rng.description(3, 10)
    );
    for k in 0..5 + rng.below(20) {
        put!(
            out,
            "        <option value=\"{}\" ExternalValue=\"\" IsHidden=\"0\">\n          <labels>\n            <label description=\"{} {}\" languagecode=\"1033\" />\n          </labels>\n        </option>\n",
            100_000_000 + k,
            capitalised(rng.word()),
            rng.tag()
        );
    }
    out.push_str("      </options>\n    </optionset>\n");
}
