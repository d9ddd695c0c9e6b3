//! The JSON result file, written atomically: a run that dies while writing
//! leaves the previous file (or none), never half of one.

use std::io::Write;
use std::path::Path;

use crate::results::ResultFile;

pub fn write(path: &Path, result: &ResultFile) -> std::io::Result<()> {
    write_value(path, result)
}

/// Any serialisable document, written atomically.
pub fn write_value(path: &Path, result: &impl serde::Serialize) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, result)?;
    tmp.write_all(b"\n")?;
    tmp.persist(path)?;
    Ok(())
}

pub fn read(path: &Path) -> Result<ResultFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read result file '{}': {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("'{}' is not a JSON result file: {e}", path.display()))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(crate::results::SCHEMA_VERSION as u64) {
        return Err(format!(
            "'{}' has schema_version {}; this ipcbench reads schema_version {}",
            path.display(),
            version.map_or("missing".to_string(), |v| v.to_string()),
            crate::results::SCHEMA_VERSION
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| format!("'{}' does not match the result schema: {e}", path.display()))
}
