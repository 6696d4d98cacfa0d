//! `tether flash`: `pack` turns a CA, device certificate and key into what a device flashes or
//! compiles in (per target), `layout` prints an ESP8266 flash map and checks placements, and
//! `inspect` reads a NONOS certificate image or flash dump back. This module parses arguments,
//! reads and writes files and prints; the formats and checks live in `device-image` and `pki`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use device_image::esp8266_nonos::{NonosPlan, SdkVersion};
use device_image::flash_map::parse_address;
use device_image::{
    Credentials, FlashLayout, FlashSize, ImageWarning, Input, Placement, RegionKind, Target,
};

/// Device credential images and ESP8266 flash placement.
#[derive(Debug, Args)]
pub struct FlashArgs {
    #[command(subcommand)]
    command: FlashCommand,
}

#[derive(Debug, Subcommand)]
enum FlashCommand {
    /// Turn a CA, device certificate and key into files for a device SDK.
    Pack(PackArgs),
    /// Print an ESP8266 flash map, its free sectors, and check placements.
    Layout(LayoutArgs),
    /// Read an ESP8266 NONOS certificate image (or a flash dump) and check it.
    Inspect(InspectArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetName {
    /// ESP8266 NONOS SDK sector images (esp_ca_cert.bin, esp_cert_private_key.bin).
    Esp8266Nonos,
    /// ESP8266 Arduino core (BearSSL) header with PEM strings.
    Esp8266Arduino,
    /// ESP-IDF PEM files for EMBED_TXTFILES.
    EspIdf,
    /// C header with DER arrays (xxd -i style).
    CHeader,
    /// Raw DER files.
    Der,
    /// MicroPython DER files.
    Micropython,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SdkArg {
    /// NONOS SDK 2.x: DER payloads.
    #[value(name = "2")]
    Two,
    /// NONOS SDK 3.x: PEM payloads.
    #[value(name = "3")]
    Three,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Chip {
    Esp8266,
}

#[derive(Debug, Args)]
struct PackArgs {
    /// Device platform to produce files for.
    #[arg(long, value_enum)]
    target: TargetName,
    /// NONOS SDK generation (esp8266-nonos only; default 2).
    #[arg(long, value_enum)]
    sdk: Option<SdkArg>,
    /// CA certificate the device trusts for the server (PEM or DER).
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// Device certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Device private key (PEM or DER; PKCS#1, PKCS#8 or SEC1).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Directory to write the files into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Flash address of esp_ca_cert.bin (esp8266-nonos).
    #[arg(long, value_name = "ADDR")]
    ca_addr: Option<String>,
    /// Flash address of esp_cert_private_key.bin (esp8266-nonos).
    #[arg(long, value_name = "ADDR")]
    cert_addr: Option<String>,
    /// Module flash size: 512KB, 1MB, 2MB or 4MB (esp8266-nonos; required there).
    #[arg(long, value_name = "SIZE")]
    flash_size: Option<String>,
    /// FOTA flash map (SPI_FLASH_SIZE_MAP); omit for a non-FOTA build.
    #[arg(long, value_name = "N")]
    map: Option<u8>,
    /// Real end address of an installed code image; frees the rest of its slot (repeatable).
    #[arg(long, value_name = "ADDR")]
    firmware_end: Vec<String>,
}

#[derive(Debug, Args)]
struct LayoutArgs {
    /// Chip family.
    #[arg(long, value_enum, default_value = "esp8266")]
    chip: Chip,
    /// Module flash size: 512KB, 1MB, 2MB or 4MB.
    #[arg(long, value_name = "SIZE")]
    flash_size: String,
    /// FOTA flash map (SPI_FLASH_SIZE_MAP: 0, 2, 3, 4, 5, 6); omit for a non-FOTA build.
    #[arg(long, value_name = "N")]
    map: Option<u8>,
    /// Real end address of an installed code image; frees the rest of its slot (repeatable).
    #[arg(long, value_name = "ADDR")]
    firmware_end: Vec<String>,
    /// An image to place, NAME=ADDR; NAME's size is used if it is a file, else one sector
    /// (repeatable).
    #[arg(long, value_name = "NAME=ADDR")]
    place: Vec<String>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// NONOS certificate image or flash dump (a PEM/DER certificate or key is summarised too).
    file: PathBuf,
}

/// Runs `tether flash …`.
pub fn run(args: FlashArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        FlashCommand::Pack(args) => pack(args),
        FlashCommand::Layout(args) => layout(args),
        FlashCommand::Inspect(args) => inspect(&args.file),
    }
}

fn pack(args: PackArgs) -> anyhow::Result<ExitCode> {
    let ca = pki::read_file(&args.ca)?;
    let cert = pki::read_file(&args.cert)?;
    let key = pki::read_file(&args.key)?;
    let (ca_name, cert_name, key_name) = (
        args.ca.display().to_string(),
        args.cert.display().to_string(),
        args.key.display().to_string(),
    );
    let credentials = Credentials::load(
        Input {
            name: &ca_name,
            bytes: &ca,
        },
        Input {
            name: &cert_name,
            bytes: &cert,
        },
        Input {
            name: &key_name,
            bytes: &key,
        },
    )?;
    let target = match args.target {
        TargetName::Esp8266Nonos => Target::Esp8266Nonos(nonos_plan(&args)?),
        TargetName::Esp8266Arduino => without_nonos_flags(&args, Target::Esp8266Arduino)?,
        TargetName::EspIdf => without_nonos_flags(&args, Target::EspIdf)?,
        TargetName::CHeader => without_nonos_flags(&args, Target::CHeader)?,
        TargetName::Der => without_nonos_flags(&args, Target::Der)?,
        TargetName::Micropython => without_nonos_flags(&args, Target::MicroPython)?,
    };
    let bundle = device_image::render(&target, &credentials)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output directory", args.out.display()))?;
    for file in &bundle.files {
        let path = args.out.join(&file.name);
        if file.secret {
            pki::write_private_key(&path, &file.bytes)?;
            println!(
                "wrote {} ({} bytes, mode 0600: holds the private key)",
                path.display(),
                file.bytes.len()
            );
        } else {
            pki::write_public_file(&path, &file.bytes)?;
            println!("wrote {} ({} bytes)", path.display(), file.bytes.len());
        }
    }
    println!();
    print!("{}", bundle.instructions);
    Ok(ExitCode::SUCCESS)
}

/// Refuses flash-placement flags for targets that are not flashed to fixed sectors.
fn without_nonos_flags(args: &PackArgs, target: Target) -> anyhow::Result<Target> {
    let nonos_only = [
        ("--sdk", args.sdk.is_some()),
        ("--ca-addr", args.ca_addr.is_some()),
        ("--cert-addr", args.cert_addr.is_some()),
        ("--flash-size", args.flash_size.is_some()),
        ("--map", args.map.is_some()),
        ("--firmware-end", !args.firmware_end.is_empty()),
    ];
    if let Some((flag, _)) = nonos_only.iter().find(|(_, given)| *given) {
        bail!(
            "{flag} applies only to --target esp8266-nonos, not {}",
            target.name()
        );
    }
    Ok(target)
}

fn nonos_plan(args: &PackArgs) -> anyhow::Result<NonosPlan> {
    let size_text = args.flash_size.as_deref().ok_or_else(|| {
        anyhow!(
            "--flash-size is required for --target esp8266-nonos so the placement can be checked (512KB, 1MB, 2MB or 4MB)"
        )
    })?;
    let layout = build_layout(size_text, args.map, &args.firmware_end)?;
    let sdk = match args.sdk {
        Some(SdkArg::Three) => SdkVersion::V3,
        Some(SdkArg::Two) | None => SdkVersion::V2,
    };
    let (ca_address, cert_address) = match (&args.ca_addr, &args.cert_addr) {
        (Some(ca), Some(cert)) => (parse_address(ca)?, parse_address(cert)?),
        (None, None) => default_addresses(&layout)?,
        _ => bail!(
            "give both --ca-addr and --cert-addr, or neither to use the suggested free sectors"
        ),
    };
    Ok(NonosPlan {
        sdk,
        ca_address,
        cert_address,
        layout,
    })
}

/// The two highest free sectors of the layout, CA first.
fn default_addresses(layout: &FlashLayout) -> anyhow::Result<(u32, u32)> {
    let report = layout.check(&[]);
    let mut sectors = report
        .free
        .iter()
        .rev()
        .flat_map(|(start, end)| (*start..*end).step_by(0x1000).rev());
    match (sectors.next(), sectors.next()) {
        (Some(cert), Some(ca)) => Ok((ca, cert)),
        _ => {
            let hint = layout
                .regions
                .iter()
                .find(|r| r.kind == RegionKind::UserParam)
                .map(|r| {
                    format!(
                        "; the user parameter area 0x{:X}–0x{:X} is usable if your application stores no parameters there",
                        r.start,
                        r.end - 1
                    )
                })
                .unwrap_or_default();
            bail!(
                "{} has fewer than two free sectors; give --ca-addr and --cert-addr{hint}",
                layout.describe_short()
            )
        }
    }
}

fn build_layout(
    size: &str,
    map: Option<u8>,
    firmware_ends: &[String],
) -> anyhow::Result<FlashLayout> {
    let size: FlashSize = size.parse()?;
    let mut layout = match map {
        Some(map) => FlashLayout::fota(size, map)?,
        None => FlashLayout::non_fota(size),
    };
    for end in firmware_ends {
        layout.set_firmware_end(parse_address(end)?)?;
    }
    Ok(layout)
}

fn layout(args: LayoutArgs) -> anyhow::Result<ExitCode> {
    let Chip::Esp8266 = args.chip;
    let layout = build_layout(&args.flash_size, args.map, &args.firmware_end)?;
    let mut placements = Vec::new();
    for spec in &args.place {
        let (name, address) = spec.split_once('=').ok_or_else(|| {
            anyhow!("--place {spec}: write it as NAME=ADDR, e.g. esp_ca_cert.bin=0x79000")
        })?;
        let address = parse_address(address)?;
        let length = std::fs::metadata(Path::new(name))
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| usize::try_from(m.len()).ok())
            .unwrap_or(0x1000);
        placements.push(Placement::new(name, address, length));
    }
    let report = layout.check(&placements);
    print!("{}", layout.render(&report));
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    if report.problems.is_empty() {
        if !placements.is_empty() {
            println!("placement ok: no overlap with code or SDK data");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        for problem in &report.problems {
            eprintln!("error: {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn inspect(path: &Path) -> anyhow::Result<ExitCode> {
    let bytes = pki::read_file(path)?;
    let report = device_image::inspect(&bytes);
    let name = path.display().to_string();
    if report.records.is_empty()
        && let Some(identified) = pki::identify(&bytes)
    {
        println!(
            "{name}: not a NONOS certificate image; it holds {} ({})",
            identified.kind, identified.encoding
        );
        if let Ok(loaded) = pki::load_certificate(&bytes, &name) {
            let s = pki::summarize(&loaded.certificate)?;
            println!("  subject   {}", s.subject);
            println!("  issuer    {}", s.issuer);
            println!(
                "  valid     {} .. {}",
                s.not_before_rfc3339, s.not_after_rfc3339
            );
            println!("  key       {}, signed {}", s.key, s.signature_algorithm);
            println!("  id        {}", s.id);
        } else if let Ok(loaded) = pki::load_private_key(&bytes, &name) {
            println!(
                "  key       {} ({})",
                pki::describe_key(&loaded.key),
                loaded.format
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if report.records.is_empty() {
        bail!("{}", not_an_image(&name, &bytes));
    }
    println!(
        "{name}: ESP8266 NONOS certificate image, {} bytes",
        bytes.len()
    );
    print!("{report}");
    let unusable = report.warnings.iter().any(|w| {
        matches!(
            w,
            ImageWarning::NoRecords | ImageWarning::Truncated { .. } | ImageWarning::KeyMismatch
        )
    });
    Ok(if unusable {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Why a file with no readable record is refused, with what an image looks like.
fn not_an_image(name: &str, bytes: &[u8]) -> String {
    let start: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let found = if bytes.is_empty() {
        "it is empty".to_owned()
    } else if bytes.iter().all(|b| *b == 0xFF) {
        "it is all 0xFF (erased flash: nothing was written there)".to_owned()
    } else {
        format!("it starts with {}", start.join(" "))
    };
    format!(
        "{name} is not an ESP8266 NONOS certificate image, nor a PEM or DER certificate or key: \
         {found}. An image starts with a record: a 32-byte NUL-padded name ({}, {} or {}), a \
         16-bit little-endian length, then the certificate or key; give the .bin that tether \
         flash pack wrote ({}, {}), a dump of the flash sector it was written to, or a \
         certificate or key file",
        device_image::esp8266_nonos::CERT_RECORD_NAME,
        device_image::esp8266_nonos::KEY_RECORD_NAME,
        device_image::esp8266_nonos::CA_RECORD_NAME,
        device_image::esp8266_nonos::CLIENT_IMAGE_FILE,
        device_image::esp8266_nonos::CA_IMAGE_FILE,
    )
}
