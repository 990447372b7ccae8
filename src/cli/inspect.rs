//! `solguard inspect PATH`: prints the package model as JSON or as a human summary.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use solguard::package::{read_package, Package};

use super::Format;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A solution .zip, an unpacked SolutionPackager folder, or a folder with the export files.
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let package = read_package(&args.path)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &package).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Human => write_human(&mut out, &package)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Environment variables and connection references: what a deployment settings file fills in.
/// Values are never shown, only whether one exists (they can be secrets).
fn write_configurables(out: &mut impl Write, package: &Package) -> io::Result<()> {
    let yes_no = |value: bool| if value { "yes" } else { "no" };
    writeln!(
        out,
        "  environment variables: {}",
        package.environment_variables.len()
    )?;
    for variable in &package.environment_variables {
        writeln!(
            out,
            "    {:<40} {:<11} default {:<3} value shipped {:<3}{}",
            variable.schema_name,
            variable.variable_type.as_deref().unwrap_or("-"),
            yes_no(variable.has_default),
            yes_no(variable.has_value),
            if variable.required { " required" } else { "" }
        )?;
    }
    writeln!(
        out,
        "  connection references: {}",
        package.connection_references.len()
    )?;
    for reference in &package.connection_references {
        writeln!(
            out,
            "    {:<40} {}",
            reference.logical_name,
            reference.connector_id.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

fn write_human(out: &mut impl Write, package: &Package) -> io::Result<()> {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{} {} ({}){}",
        package.unique_name,
        package.version,
        package.managed.as_str(),
        package
            .display_name
            .as_ref()
            .map(|name| format!(" \"{name}\""))
            .unwrap_or_default()
    )?;
    if let Some(error) = &package.version_error {
        writeln!(out, "  version:     INVALID: {error}")?;
    }
    writeln!(
        out,
        "  source:      {} ({:?}, {:?}{})",
        package.source.path.display(),
        package.source.kind,
        package.source.layout,
        package
            .source
            .sha256
            .as_ref()
            .map(|sha| format!(", sha256 {sha}"))
            .unwrap_or_default()
    )?;
    let publisher = &package.publisher;
    writeln!(
        out,
        "  publisher:   {} \"{}\" prefix {} option prefix {}",
        publisher.unique_name,
        or_dash(&publisher.display_name),
        or_dash(&publisher.customization_prefix),
        publisher
            .option_value_prefix
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into())
    )?;
    let export = &package.export;
    writeln!(
        out,
        "  exported:    at {} from version {} package version {} minimum {} by {}",
        package
            .exported_at
            .map_or_else(|| "-".into(), |t| t.to_string()),
        or_dash(&export.version),
        or_dash(&export.solution_package_version),
        or_dash(&export.minimum_version),
        or_dash(&export.generated_by)
    )?;
    if let Some(parent) = &package.parent {
        writeln!(
            out,
            "  patch of:    {} {}",
            parent.unique_name,
            parent.version.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "  root components: {}", package.root_components.len())?;
    for component in &package.root_components {
        writeln!(
            out,
            "    {:<28} {}{}",
            component.kind,
            component
                .schema_name
                .as_deref()
                .or(component.id.as_deref())
                .unwrap_or("-"),
            component
                .behavior
                .map(|b| format!(" (behavior {b})"))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "  missing dependencies: {}",
        package.missing_dependencies.len()
    )?;
    for dependency in &package.missing_dependencies {
        let required = &dependency.required;
        writeln!(
            out,
            "    needs {} {} from {}",
            required.kind.as_deref().unwrap_or("?"),
            required
                .schema_name
                .as_deref()
                .or(required.display_name.as_deref())
                .unwrap_or("?"),
            required.solution.as_deref().unwrap_or("?")
        )?;
    }
    writeln!(out, "  entities: {}", package.entities.len())?;
    for entity in &package.entities {
        let custom = entity.attributes.iter().filter(|a| a.custom).count();
        writeln!(
            out,
            "    {:<40} {}",
            entity.name,
            if entity.shell {
                "shell (no EntityInfo)".to_string()
            } else {
                format!(
                    "{} attributes ({custom} custom){}",
                    entity.attributes.len(),
                    if entity.unmodified {
                        ", unmodified"
                    } else {
                        ""
                    }
                )
            }
        )?;
    }
    let global = package.option_sets.iter().filter(|s| s.global).count();
    writeln!(
        out,
        "  option sets: {} global, {} local",
        global,
        package.option_sets.len() - global
    )?;
    writeln!(out, "  relationships: {}", package.relationships.len())?;
    write_configurables(out, package)?;
    let counts: Vec<String> = package
        .components
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    writeln!(out, "  components: {}", counts.join(", "))?;
    for warning in &package.warnings {
        writeln!(out, "  warning [{}]: {}", warning.code, warning.message)?;
    }
    Ok(())
}
