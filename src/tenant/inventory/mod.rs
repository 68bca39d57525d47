//! `forget inventory`: where else a tenant keeps personal data.
//!
//! Lists the purposes (`/v1/purposes` on the API hub) and the target groups (`/v1/target-groups`
//! on the hub, `/campaignapi/resources/v3/target-groups` on the base URL), decodes their
//! documented enums into words, and flags the target groups a profile deletion does not
//! reach: static uploads (behaviour `S`, source file upload or SFTP) whose headers hold
//! identifiers. Those files still name the people a run erased, so they are listed for review.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, exit};
use crate::tenant::hub::Reader;
use crate::text::printable;

pub const PURPOSES_PATH: &str = "/v1/purposes";
pub const HUB_TARGET_GROUPS_PATH: &str = "/v1/target-groups";
pub const TARGET_GROUPS_PATH: &str = "/campaignapi/resources/v3/target-groups";

/// Target-group headers that identify a person (and that a deletion request would name).
pub const IDENTIFIER_HEADERS: [&str; 4] = ["MSISDN", "EMAIL", "APPDEVICEID", "CUSTOMERID"];

/// A documented code and its meaning, as the Get Target Groups document words it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decoded {
    pub code: String,
    pub meaning: String,
}

fn decoded(code: String, table: &[(&str, &str)]) -> Decoded {
    let meaning = table
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(&code))
        .map(|(_, m)| (*m).to_owned())
        .unwrap_or_else(|| {
            if code.is_empty() {
                "not given".to_owned()
            } else {
                "undocumented".to_owned()
            }
        });
    Decoded { code, meaning }
}

/// `behaviour`: S - Static, D - Dynamic.
pub const BEHAVIOUR: &[(&str, &str)] = &[("S", "Static"), ("D", "Dynamic")];
/// `loadType`: 0 - File upload, 1 - Segment.
pub const LOAD_TYPE: &[(&str, &str)] = &[("0", "File upload"), ("1", "Segment")];
/// `source`: 0 - File upload, 1 - Sftp, 6 - Dynamic Segment.
pub const SOURCE: &[(&str, &str)] = &[
    ("0", "File upload"),
    ("1", "Sftp"),
    ("6", "Dynamic Segment"),
];
/// `targetState`: 0 (Inprogress), 1 (ready).
pub const TARGET_STATE: &[(&str, &str)] = &[("0", "Inprogress"), ("1", "ready")];

/// A field as text: strings trimmed, numbers without a useless `.0`, the string "null"
/// (which the API sends for empty descriptions) as nothing.
fn text(item: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| match item.get(*name)? {
        Value::String(s) if !s.trim().is_empty() && s.trim() != "null" => Some(s.trim().to_owned()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Purpose {
    pub id: String,
    pub name: Option<String>,
    pub tenant: Option<String>,
    pub group: Option<String>,
    pub created: Option<String>,
    pub description: Option<String>,
}

impl Purpose {
    pub fn from_json(item: &Value) -> Purpose {
        Purpose {
            id: text(item, &["id"]).unwrap_or_default(),
            name: text(item, &["name"]),
            tenant: text(item, &["tenantName"]),
            group: text(item, &["group"]),
            // The document names the field createdOn; its example sends createdDate.
            created: text(item, &["createdOn", "createdDate"]),
            description: text(item, &["description"]),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetGroup {
    pub id: String,
    pub name: Option<String>,
    pub tenant: Option<String>,
    pub user_group: Option<String>,
    pub created_on: Option<String>,
    pub last_updated_on: Option<String>,
    pub description: Option<String>,
    pub file_name: Option<String>,
    pub headers: Vec<String>,
    /// The headers that identify a person (MSISDN, EMAIL, APPDEVICEID, CUSTOMERID).
    pub identifier_headers: Vec<String>,
    pub behaviour: Decoded,
    pub load_type: Decoded,
    pub source: Decoded,
    pub target_state: Decoded,
    pub status: Option<String>,
    pub total_count: Option<String>,
    pub supported_channels: Vec<String>,
    /// Which endpoints listed it: `hub` (/v1/...), `base` (/campaignapi/...).
    pub listed_by: Vec<&'static str>,
    /// Why a person should look at it, when they should.
    pub review: Option<String>,
}

fn split_headers(headers: &str) -> Vec<String> {
    headers
        .split(['|', ',', ';'])
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect()
}

impl TargetGroup {
    pub fn from_json(item: &Value, listed_by: &'static str) -> TargetGroup {
        let headers = match item.get("headers") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|h| h.as_str().map(|s| s.trim().to_owned()))
                .filter(|h| !h.is_empty())
                .collect(),
            _ => text(item, &["headers"])
                .map(|h| split_headers(&h))
                .unwrap_or_default(),
        };
        let identifier_headers: Vec<String> = headers
            .iter()
            .filter(|h| {
                let bare: String = h
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_uppercase();
                IDENTIFIER_HEADERS.contains(&bare.as_str())
            })
            .cloned()
            .collect();
        let supported_channels = match item.get("supportedChannels") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect(),
            _ => text(item, &["supportedChannels"]).into_iter().collect(),
        };
        let code = |name: &str| text(item, &[name]).unwrap_or_default();
        let mut group = TargetGroup {
            id: code("id"),
            name: text(item, &["name"]),
            tenant: text(item, &["customerName"]),
            user_group: text(item, &["userGroup"]),
            created_on: text(item, &["createdOn"]),
            last_updated_on: text(item, &["lastUpdatedOn"]),
            description: text(item, &["description"]),
            file_name: text(item, &["fileName"]),
            headers,
            identifier_headers,
            behaviour: decoded(code("behaviour"), BEHAVIOUR),
            load_type: decoded(code("loadType"), LOAD_TYPE),
            source: decoded(code("source"), SOURCE),
            target_state: decoded(code("targetState"), TARGET_STATE),
            status: text(item, &["statusValue"]),
            total_count: text(item, &["totalCount"]),
            supported_channels,
            listed_by: vec![listed_by],
            review: None,
        };
        group.review = group.review_reason();
        group
    }

    /// A static upload (file or SFTP) with identifier columns: erasing a profile leaves the
    /// uploaded rows — and the people they name — in place.
    fn review_reason(&self) -> Option<String> {
        let static_upload = self.behaviour.code.eq_ignore_ascii_case("S")
            && matches!(self.source.code.as_str(), "0" | "1");
        if !static_upload || self.identifier_headers.is_empty() {
            return None;
        }
        let file = self
            .file_name
            .as_ref()
            .map(|f| format!(", file {f:?}"))
            .unwrap_or_default();
        Some(format!(
            "static upload (source {}{file}) holding {}: a profile deletion does not reach it",
            self.source.meaning,
            self.identifier_headers.join(", ")
        ))
    }
}

/// Which items to read: everything, or the given ids.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub purposes: Vec<String>,
    pub target_groups: Vec<String>,
}

impl Selection {
    fn everything(&self) -> bool {
        self.purposes.is_empty() && self.target_groups.is_empty()
    }
}

/// The tenant's inventory, as `--json` prints it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inventory {
    /// Tenant names found in the purposes and target groups.
    pub tenant: Vec<String>,
    /// `None`: not read (no hub access, or only target groups were asked for).
    pub purposes: Option<Vec<Purpose>>,
    pub target_groups: Option<Vec<TargetGroup>>,
    /// Ids asked for that no endpoint knows (404), as `purpose 12` / `target group 34`.
    pub not_found: Vec<String>,
}

impl Inventory {
    pub fn to_review(&self) -> impl Iterator<Item = &TargetGroup> {
        self.target_groups
            .iter()
            .flatten()
            .filter(|g| g.review.is_some())
    }

    /// 0, or 4 when an id asked for was not found.
    pub fn exit_code(&self) -> i32 {
        if self.not_found.is_empty() {
            exit::OK
        } else {
            exit::INCOMPLETE
        }
    }
}

/// An id as it may appear in a path: no separators or query characters.
fn path_id(kind: &str, id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(crate::error::Error::usage(format!(
            "{kind} id {id:?}: expected digits or letters"
        )));
    }
    Ok(id.to_owned())
}

/// Read the inventory from the hub and/or the base URL.
pub async fn collect(
    hub: Option<&Reader>,
    base: Option<&Reader>,
    selection: &Selection,
) -> Result<Inventory> {
    let mut inventory = Inventory::default();
    if let Some(hub) = hub
        && (selection.everything() || !selection.purposes.is_empty())
    {
        let purposes = if selection.everything() {
            hub.list(PURPOSES_PATH).await?
        } else {
            let mut found = Vec::new();
            for id in &selection.purposes {
                let id = path_id("purpose", id)?;
                match hub.one(&format!("{PURPOSES_PATH}/{id}")).await? {
                    Some(p) => found.push(p),
                    None => inventory.not_found.push(format!("purpose {id}")),
                }
            }
            found
        };
        inventory.purposes = Some(purposes.iter().map(Purpose::from_json).collect());
    }

    if selection.everything() || !selection.target_groups.is_empty() {
        // Merged by id, in the order first seen.
        let mut groups: Vec<TargetGroup> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut read_any = false;
        let mut found_ids: Vec<String> = Vec::new();
        for (reader, path, label) in [
            (hub, HUB_TARGET_GROUPS_PATH, "hub"),
            (base, TARGET_GROUPS_PATH, "base"),
        ] {
            let Some(reader) = reader else { continue };
            read_any = true;
            let items = if selection.everything() {
                reader.list(path).await?
            } else {
                let mut found = Vec::new();
                for id in &selection.target_groups {
                    let id = path_id("target group", id)?;
                    if let Some(g) = reader.one(&format!("{path}/{id}")).await? {
                        found_ids.push(id);
                        found.push(g);
                    }
                }
                found
            };
            for item in &items {
                let group = TargetGroup::from_json(item, label);
                match index.get(&group.id) {
                    Some(&i) => groups[i].listed_by.push(label),
                    None => {
                        index.insert(group.id.clone(), groups.len());
                        groups.push(group);
                    }
                }
            }
        }
        if read_any {
            for id in &selection.target_groups {
                if !found_ids.iter().any(|f| f == id.trim()) {
                    inventory
                        .not_found
                        .push(format!("target group {}", id.trim()));
                }
            }
            inventory.target_groups = Some(groups);
        }
    }

    let names = inventory
        .purposes
        .iter()
        .flatten()
        .filter_map(|p| p.tenant.clone())
        .chain(
            inventory
                .target_groups
                .iter()
                .flatten()
                .filter_map(|g| g.tenant.clone()),
        );
    for name in names {
        if !inventory.tenant.contains(&name) {
            inventory.tenant.push(name);
        }
    }
    Ok(inventory)
}

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".to_owned())
}

fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Left-aligned columns, two spaces apart. Cells come from the API: escaped, so they can
/// neither act on the terminal nor break the table's lines.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| printable(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            s.push(' ');
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i] - cell.chars().count() + 1));
            }
        }
        let mut s = s.trim_end().to_owned();
        s.push('\n');
        s
    };
    let mut out = line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// The human-readable report.
pub fn render_table(inv: &Inventory) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if !inv.tenant.is_empty() {
        let _ = writeln!(out, "tenant: {}", printable(&inv.tenant.join(", ")));
    }
    match &inv.purposes {
        None => {
            let _ = writeln!(
                out,
                "purposes: not read (they need --hub-url; --target-group alone skips them)"
            );
        }
        Some(purposes) => {
            let _ = writeln!(out, "purposes ({})", purposes.len());
            if !purposes.is_empty() {
                let rows: Vec<Vec<String>> = purposes
                    .iter()
                    .map(|p| {
                        vec![
                            p.id.clone(),
                            or_dash(&p.name),
                            or_dash(&p.group),
                            or_dash(&p.created),
                            clip(or_dash(&p.description), 40),
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &["ID", "NAME", "GROUP", "CREATED", "DESCRIPTION"],
                    &rows,
                ));
            }
        }
    }
    match &inv.target_groups {
        None => {
            let _ = writeln!(
                out,
                "target groups: not read (give --hub-url or --base-url)"
            );
        }
        Some(groups) => {
            let _ = writeln!(out, "target groups ({})", groups.len());
            if !groups.is_empty() {
                let rows: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| {
                        vec![
                            g.id.clone(),
                            clip(or_dash(&g.name), 36),
                            g.behaviour.meaning.clone(),
                            g.load_type.meaning.clone(),
                            g.source.meaning.clone(),
                            g.target_state.meaning.clone(),
                            g.headers.join("|"),
                            or_dash(&g.total_count),
                            if g.review.is_some() { "REVIEW" } else { "" }.to_owned(),
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &[
                        "ID",
                        "NAME",
                        "BEHAVIOUR",
                        "LOAD TYPE",
                        "SOURCE",
                        "STATE",
                        "HEADERS",
                        "RECORDS",
                        "",
                    ],
                    &rows,
                ));
            }
        }
    }
    let review: Vec<&TargetGroup> = inv.to_review().collect();
    if !review.is_empty() {
        let _ = writeln!(
            out,
            "\nREVIEW: {} target group(s) are static uploads holding identifiers. Erasing a \
             profile does not remove a person from these uploaded files; check them for the \
             people you erase, and re-upload or delete them:",
            review.len()
        );
        for g in review {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                printable(&g.id),
                printable(&or_dash(&g.name)),
                printable(g.review.as_deref().unwrap_or_default())
            );
        }
    }
    for missing in &inv.not_found {
        let _ = writeln!(out, "not found: {} (404)", printable(missing));
    }
    out
}

/// One CSV table of both kinds (`kind` = purpose | target-group).
pub fn render_csv(inv: &Inventory) -> Result<String> {
    let mut writer = crate::csvfile::Writer::from_writer(Vec::new());
    let header = [
        "kind",
        "id",
        "name",
        "tenant",
        "group",
        "created",
        "description",
        "behaviour",
        "load_type",
        "source",
        "target_state",
        "status",
        "headers",
        "identifier_headers",
        "records",
        "file_name",
        "listed_by",
        "review",
    ];
    let csv_error = |e: csv::Error| crate::error::Error::csv("writing CSV", e);
    writer.write_record(header).map_err(csv_error)?;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    for p in inv.purposes.iter().flatten() {
        let mut row = vec![
            "purpose".to_owned(),
            p.id.clone(),
            o(&p.name),
            o(&p.tenant),
            o(&p.group),
            o(&p.created),
            o(&p.description),
        ];
        row.resize(header.len(), String::new());
        row[16] = "hub".to_owned();
        writer.write_record(&row).map_err(csv_error)?;
    }
    for g in inv.target_groups.iter().flatten() {
        let row = [
            "target-group".to_owned(),
            g.id.clone(),
            o(&g.name),
            o(&g.tenant),
            o(&g.user_group),
            o(&g.created_on),
            o(&g.description),
            g.behaviour.meaning.clone(),
            g.load_type.meaning.clone(),
            g.source.meaning.clone(),
            g.target_state.meaning.clone(),
            o(&g.status),
            g.headers.join("|"),
            g.identifier_headers.join("|"),
            o(&g.total_count),
            o(&g.file_name),
            g.listed_by.join("|"),
            o(&g.review),
        ];
        writer.write_record(&row).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| crate::error::Error::io("writing CSV", e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests;
