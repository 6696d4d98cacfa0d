//! ESP8266 NONOS flash maps (512 KB, 1 MB, 2 MB, 4 MB; non-FOTA and the FOTA maps 0/2/3/4/5/6)
//! and the placement checker: which regions hold code, the user parameter area, RF
//! calibration, PHY init data and system parameters, whether given images overlap any of them,
//! and which sectors are free. Addresses come from device-side.md §2; it does not read a
//! firmware image, the caller passes the real image ends.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::error::{DeviceImageError, Result};

/// Flash sector (erase unit) size; espconn takes sector numbers.
pub const SECTOR_SIZE: usize = 4096;
const SECTOR: u32 = 4096;

/// Module flash sizes the maps cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashSize {
    Kb512,
    Mb1,
    Mb2,
    Mb4,
}

impl FlashSize {
    /// Size in bytes.
    pub fn bytes(self) -> u32 {
        match self {
            Self::Kb512 => 0x8_0000,
            Self::Mb1 => 0x10_0000,
            Self::Mb2 => 0x20_0000,
            Self::Mb4 => 0x40_0000,
        }
    }
}

impl fmt::Display for FlashSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kb512 => "512 KB",
            Self::Mb1 => "1 MB",
            Self::Mb2 => "2 MB",
            Self::Mb4 => "4 MB",
        })
    }
}

impl FromStr for FlashSize {
    type Err = DeviceImageError;

    fn from_str(text: &str) -> Result<Self> {
        let normal: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        match normal.trim_end_matches('B') {
            "512K" => Ok(Self::Kb512),
            "1M" | "1024K" => Ok(Self::Mb1),
            "2M" => Ok(Self::Mb2),
            "4M" => Ok(Self::Mb4),
            _ => Err(DeviceImageError::Layout(format!(
                "unknown flash size '{text}'; use 512KB, 1MB, 2MB or 4MB"
            ))),
        }
    }
}

/// What a region of flash is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Boot loader or application code; images written here break the firmware.
    Code,
    /// The 16 KB area Espressif's examples use for application parameters; usable for
    /// certificates when the application does not store parameters there.
    UserParam,
    /// RF calibration sector (`user_rf_cal_sector_set`).
    RfCal,
    /// PHY init data (`esp_init_data_default.bin`).
    InitData,
    /// The SDK's three system parameter sectors (Wi-Fi configuration).
    SystemParams,
}

/// One named region of a flash map, `start..end` (end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub kind: RegionKind,
    pub name: String,
    pub start: u32,
    pub end: u32,
}

/// An image to be written at `address`, `length` bytes long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub name: String,
    pub address: u32,
    pub length: u32,
}

impl Placement {
    /// A placement of `length` bytes (saturating at 4 GiB).
    pub fn new(name: &str, address: u32, length: usize) -> Self {
        Self {
            name: name.to_owned(),
            address,
            length: u32::try_from(length).unwrap_or(u32::MAX),
        }
    }
}

/// The result of [`FlashLayout::check`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlacementReport {
    /// Placements that must not be flashed (overlap code/SDK data, misaligned, out of flash).
    pub problems: Vec<String>,
    /// Placements that are fine only under a condition the tool cannot check.
    pub warnings: Vec<String>,
    /// Free ranges `(start, end_exclusive)` left after regions and placements.
    pub free: Vec<(u32, u32)>,
}

/// The flash map of one ESP8266 module: size, FOTA map number (if any) and regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashLayout {
    pub size: FlashSize,
    /// `SPI_FLASH_SIZE_MAP` of a FOTA (boot.bin + user1/user2) build; `None` for non-FOTA.
    pub map: Option<u8>,
    pub regions: Vec<Region>,
}

impl FlashLayout {
    /// Non-FOTA build (eagle.flash.bin at 0x00000, eagle.irom0text.bin at 0x10000 with the
    /// default linker script's 0x5C000 limit).
    pub fn non_fota(size: FlashSize) -> Self {
        let mut regions = vec![
            region(
                RegionKind::Code,
                "eagle.flash.bin code region",
                0x0,
                0x1_0000,
            ),
            region(
                RegionKind::Code,
                "irom0 code region of eagle.irom0text.bin",
                0x1_0000,
                0x6_C000,
            ),
        ];
        regions.extend(sdk_tail(size));
        Self {
            size,
            map: None,
            regions,
        }
    }

    /// FOTA build with `SPI_FLASH_SIZE_MAP` = `map` (0, 2, 3, 4, 5 or 6), which must fit `size`.
    pub fn fota(size: FlashSize, map: u8) -> Result<Self> {
        let expected = match map {
            0 => FlashSize::Kb512,
            2 => FlashSize::Mb1,
            3 | 5 => FlashSize::Mb2,
            4 | 6 => FlashSize::Mb4,
            _ => {
                return Err(DeviceImageError::Layout(format!(
                    "flash map {map} is not supported; use 0 (512 KB), 2 (1 MB), 3 or 5 (2 MB), 4 or 6 (4 MB)"
                )));
            }
        };
        if expected != size {
            return Err(DeviceImageError::Layout(format!(
                "flash map {map} is for a {expected} module, not {size}"
            )));
        }
        // (user1 end, user param start, user2 start, user2 end) per device-side.md §2.2.
        let (user1_end, param_start, user2_start, user2_end) = match map {
            0 => (0x3_C000, 0x3_C000, 0x4_1000, 0x7_B000),
            2 => (0x7_C000, 0x7_C000, 0x8_1000, 0xF_B000),
            3 | 4 => (0x7_C000, 0x7_C000, 0x8_1000, 0xF_C000),
            _ => (0xF_C000, 0xF_C000, 0x10_1000, 0x1F_B000),
        };
        let mut regions = vec![
            region(
                RegionKind::Code,
                "boot loader sector (boot.bin)",
                0x0,
                0x1000,
            ),
            region(
                RegionKind::Code,
                "user1 application slot",
                0x1000,
                user1_end,
            ),
            region(
                RegionKind::UserParam,
                "user parameter area",
                param_start,
                param_start + 0x4000,
            ),
            region(
                RegionKind::Code,
                "user2 application slot",
                user2_start,
                user2_end,
            ),
        ];
        regions.extend(sdk_tail(size));
        Ok(Self {
            size,
            map: Some(map),
            regions,
        })
    }

    /// Shrinks the code region containing `end - 1` so it stops at `end` (rounded up to a
    /// sector): the real end of an installed image, freeing the rest of its slot.
    pub fn set_firmware_end(&mut self, end: u32) -> Result<()> {
        let last = end.checked_sub(1).ok_or_else(|| {
            DeviceImageError::Layout("a firmware end of 0x0 is not possible".to_owned())
        })?;
        let rounded = end.checked_next_multiple_of(SECTOR).unwrap_or(u32::MAX);
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.kind == RegionKind::Code && r.start <= last && last < r.end)
            .ok_or_else(|| {
                DeviceImageError::Layout(format!(
                    "firmware end {} is not inside any code region of the {}; run `tether flash layout` to see the code regions",
                    hex(end),
                    self_describe(self.size, self.map)
                ))
            })?;
        region.end = rounded.min(region.end);
        Ok(())
    }

    /// Short description such as `a 512 KB module (non-FOTA layout)`.
    pub fn describe_short(&self) -> String {
        self_describe(self.size, self.map)
    }

    /// Checks placements against the regions, the flash size, sector alignment and each other.
    pub fn check(&self, placements: &[Placement]) -> PlacementReport {
        let mut report = PlacementReport::default();
        let size = self.size.bytes();
        for p in placements {
            let end = p.address.saturating_add(p.length.max(1));
            if p.address % SECTOR != 0 {
                report.problems.push(format!(
                    "{}: {} is not at the start of a 4 KB sector; espconn takes a sector number (address / 0x1000), e.g. {}",
                    p.name,
                    hex(p.address),
                    hex(p.address - p.address % SECTOR)
                ));
            }
            if end > size {
                report.problems.push(format!(
                    "{}: {}–{} goes beyond the end of {} flash (last address {})",
                    p.name,
                    hex(p.address),
                    hex(end - 1),
                    self.size,
                    hex(size - 1)
                ));
            }
            for r in &self.regions {
                if p.address >= r.end || end <= r.start {
                    continue;
                }
                let location = if p.address >= r.start {
                    format!("{} is inside", hex(p.address))
                } else {
                    format!("{}–{} overlaps", hex(p.address), hex(end - 1))
                };
                let message = format!(
                    "{}: {location} the {} ({}–{}) on a {} module; {}",
                    p.name,
                    r.display_name(),
                    hex(r.start),
                    hex(r.end - 1),
                    self.size,
                    advice(r.kind)
                );
                if r.kind == RegionKind::UserParam {
                    report.warnings.push(message);
                } else {
                    report.problems.push(message);
                }
            }
        }
        for (i, a) in placements.iter().enumerate() {
            for b in placements.iter().skip(i + 1) {
                let a_end = a.address.saturating_add(a.length.max(1));
                let b_end = b.address.saturating_add(b.length.max(1));
                if a.address < b_end && b.address < a_end {
                    report.problems.push(format!(
                        "{} ({}–{}) and {} ({}–{}) overlap; give them different sectors",
                        a.name,
                        hex(a.address),
                        hex(a_end - 1),
                        b.name,
                        hex(b.address),
                        hex(b_end - 1)
                    ));
                }
            }
        }
        report.free = self.free_ranges(placements);
        report
    }

    /// Sector ranges not used by any region or placement.
    fn free_ranges(&self, placements: &[Placement]) -> Vec<(u32, u32)> {
        let mut used: Vec<(u32, u32)> = self.regions.iter().map(|r| (r.start, r.end)).collect();
        for p in placements {
            let start = p.address - p.address % SECTOR;
            let end = p
                .address
                .saturating_add(p.length.max(1))
                .checked_next_multiple_of(SECTOR)
                .unwrap_or(u32::MAX);
            used.push((start, end));
        }
        used.sort_unstable();
        let mut free = Vec::new();
        let mut cursor = 0u32;
        for (start, end) in used {
            if start > cursor {
                free.push((cursor, start.min(self.size.bytes())));
            }
            cursor = cursor.max(end);
        }
        if cursor < self.size.bytes() {
            free.push((cursor, self.size.bytes()));
        }
        free.retain(|(s, e)| s < e);
        free
    }

    /// The map as text: regions in address order, then free ranges.
    pub fn render(&self, report: &PlacementReport) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "ESP8266 flash map for {}:", self.describe_short());
        let mut regions: Vec<&Region> = self.regions.iter().collect();
        regions.sort_by_key(|r| r.start);
        for r in regions {
            let _ = writeln!(
                text,
                "  {:>9}–{:<9} {:>5} KB  {}{}",
                hex(r.start),
                hex(r.end - 1),
                (r.end - r.start) / 1024,
                r.name,
                if r.kind == RegionKind::UserParam {
                    " (usable for certificates if the application stores no parameters there)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(text, "Free sectors:");
        if report.free.is_empty() {
            let _ = writeln!(text, "  none");
        }
        for (start, end) in &report.free {
            let sectors = (end - start) / SECTOR;
            let _ = writeln!(
                text,
                "  {:>9}–{:<9} {:>5} KB  sectors {}–{} ({sectors} sector{})",
                hex(*start),
                hex(end - 1),
                (end - start) / 1024,
                hex(start / SECTOR),
                hex((end / SECTOR).saturating_sub(1)),
                if sectors == 1 { "" } else { "s" }
            );
        }
        text
    }
}

impl Region {
    fn display_name(&self) -> &str {
        &self.name
    }
}

/// Formats an address as `0x7E000` (uppercase hex digits, no padding).
pub fn hex(value: u32) -> String {
    format!("0x{value:X}")
}

/// Parses `0x7E000`, `7E000h` is not accepted; decimal is accepted without a prefix.
pub fn parse_address(text: &str) -> Result<u32> {
    let trimmed = text.trim();
    let parsed = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(digits) => u32::from_str_radix(&digits.replace('_', ""), 16),
        None => trimmed.replace('_', "").parse::<u32>(),
    };
    parsed.map_err(|_| {
        DeviceImageError::Layout(format!(
            "'{text}' is not a flash address; write it as hex like 0x7E000"
        ))
    })
}

fn region(kind: RegionKind, name: &str, start: u32, end: u32) -> Region {
    Region {
        kind,
        name: name.to_owned(),
        start,
        end,
    }
}

/// The last five sectors: RF calibration, PHY init data, three system parameter sectors.
fn sdk_tail(size: FlashSize) -> [Region; 3] {
    let end = size.bytes();
    [
        region(
            RegionKind::RfCal,
            "RF calibration sector",
            end - 0x5000,
            end - 0x4000,
        ),
        region(
            RegionKind::InitData,
            "PHY init data sector (esp_init_data_default.bin)",
            end - 0x4000,
            end - 0x3000,
        ),
        region(
            RegionKind::SystemParams,
            "SDK system parameter area",
            end - 0x3000,
            end,
        ),
    ]
}

fn advice(kind: RegionKind) -> &'static str {
    match kind {
        RegionKind::Code => {
            "flashing there overwrites the firmware (pass --firmware-end with the real image end if it is shorter)"
        }
        RegionKind::UserParam => {
            "free only if the application does not keep parameters there (system_param_save_with_protect)"
        }
        RegionKind::RfCal | RegionKind::InitData => {
            "the SDK reads its radio settings there; choose a free sector"
        }
        RegionKind::SystemParams => {
            "the SDK rewrites it (Wi-Fi settings) and blank.bin erases it; choose a free sector"
        }
    }
}

fn self_describe(size: FlashSize, map: Option<u8>) -> String {
    match map {
        None => format!("a {size} module (non-FOTA layout)"),
        Some(map) => format!("a {size} module (FOTA map {map})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_case_is_refused_on_512_kb() {
        let layout = FlashLayout::non_fota(FlashSize::Kb512);
        let report = layout.check(&[Placement::new("client", 0x7E000, 4096)]);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0].contains(
                "0x7E000 is inside the SDK system parameter area (0x7D000–0x7FFFF) on a 512 KB module"
            ),
            "{}",
            report.problems[0]
        );
        let report = layout.check(&[Placement::new("ca", 0x3A000, 4096)]);
        assert!(
            report.problems[0].contains("irom0"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn firmware_end_frees_the_rest_of_the_slot() {
        let mut layout = FlashLayout::non_fota(FlashSize::Kb512);
        layout.set_firmware_end(0x3_0001).unwrap();
        let report = layout.check(&[Placement::new("ca", 0x3A000, 4096)]);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(
            report.free,
            vec![(0x3_1000, 0x3_A000), (0x3_B000, 0x7_B000)]
        );
        assert!(layout.set_firmware_end(0x7_C000).is_err());
        assert!(layout.set_firmware_end(0).is_err());
    }

    #[test]
    fn fota_maps_match_sizes_and_user_param_is_a_warning() {
        assert!(FlashLayout::fota(FlashSize::Kb512, 2).is_err());
        assert!(FlashLayout::fota(FlashSize::Mb1, 7).is_err());
        let layout = FlashLayout::fota(FlashSize::Mb1, 2).unwrap();
        let report = layout.check(&[
            Placement::new("ca", 0x7C000, 4096),
            Placement::new("client", 0x7D000, 4096),
        ]);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.warnings.len(), 2);
        assert_eq!(report.free, vec![(0x8_0000, 0x8_1000)]);
    }

    #[test]
    fn misaligned_overlapping_and_out_of_range_placements() {
        let layout = FlashLayout::non_fota(FlashSize::Mb1);
        let report = layout.check(&[
            Placement::new("a", 0xF_0100, 4096),
            Placement::new("b", 0xF_1000, 4096),
            Placement::new("c", 0x10_0000, 4096),
        ]);
        let all = report.problems.join("\n");
        assert!(
            all.contains("a: 0xF0100 is not at the start of a 4 KB sector"),
            "{all}"
        );
        assert!(
            all.contains("a (0xF0100–0xF10FF) and b (0xF1000–0xF1FFF) overlap"),
            "{all}"
        );
        assert!(
            all.contains("c: 0x100000–0x100FFF goes beyond the end of 1 MB flash"),
            "{all}"
        );
    }

    #[test]
    fn parsing_sizes_and_addresses() {
        assert_eq!("512KB".parse::<FlashSize>().unwrap(), FlashSize::Kb512);
        assert_eq!("1mb".parse::<FlashSize>().unwrap(), FlashSize::Mb1);
        assert_eq!("4M".parse::<FlashSize>().unwrap(), FlashSize::Mb4);
        assert!("3MB".parse::<FlashSize>().is_err());
        assert_eq!(parse_address("0x7E000").unwrap(), 0x7E000);
        assert_eq!(parse_address("4096").unwrap(), 4096);
        assert!(parse_address("0xZZ").is_err());
    }

    #[test]
    fn render_lists_regions_and_free_sectors() {
        let layout = FlashLayout::non_fota(FlashSize::Kb512);
        let report = layout.check(&[]);
        let text = layout.render(&report);
        assert!(text.contains("0x7D000–0x7FFFF"), "{text}");
        assert!(
            text.contains("0x6C000–0x7AFFF      60 KB  sectors 0x6C–0x7A (15 sectors)"),
            "{text}"
        );
    }
}
