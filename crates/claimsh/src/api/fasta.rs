//! Sequences: `read_fasta`. A plain FASTA reader (headers `>id description`, sequence lines
//! joined), enough for the files bioinformatic tools write; anything else is an error naming the
//! file and line.

use super::{R, script_error, worker};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, NativeCallContext};
use std::path::Path;

/// Reading sequence files.
#[export_module]
pub mod sequence_functions {
    use super::*;

    /// Read a FASTA file into maps `#{id, description, seq}`, in file order (sequence lines
    /// joined, whitespace dropped, letters kept as written).
    ///
    /// ```rhai
    /// for r in read_fasta("reads.fa") { log(`${r.id}: ${r.seq.len()} bases`); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_fasta(ctx: NativeCallContext, path: &str) -> R<Array> {
        let path = worker(&ctx)?.resolve(path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| script_error(format!("read_fasta {}: {e}", path.display())))?;
        parse(&path, &text).map_err(script_error)
    }
}

/// The records of a FASTA text; errors say `file:line: what`.
pub fn parse(path: &Path, text: &str) -> Result<Array, String> {
    let mut records = Array::new();
    let mut current: Option<(String, String, String)> = None;
    let push = |records: &mut Array, (id, description, seq): (String, String, String)| {
        let mut map = Map::new();
        map.insert("id".into(), Dynamic::from(id));
        map.insert("description".into(), Dynamic::from(description));
        map.insert("seq".into(), Dynamic::from(seq));
        records.push(Dynamic::from_map(map));
    };
    for (number, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), number + 1);
        if let Some(header) = line.strip_prefix('>') {
            if let Some(done) = current.take() {
                push(&mut records, done);
            }
            let header = header.trim();
            let (id, description) = header
                .split_once(char::is_whitespace)
                .unwrap_or((header, ""));
            if id.is_empty() {
                return Err(format!("{}: a '>' header without a sequence name", at()));
            }
            current = Some((
                id.to_string(),
                description.trim().to_string(),
                String::new(),
            ));
        } else if line.starts_with(';') || line.trim().is_empty() {
            continue; // comment (old FASTA) or blank line
        } else {
            let Some((_, _, seq)) = current.as_mut() else {
                return Err(format!(
                    "{}: sequence data before the first '>' header: is this a FASTA file?",
                    at()
                ));
            };
            seq.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    if let Some(done) = current.take() {
        push(&mut records, done);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_join_their_lines_and_bad_files_name_the_line() {
        let text = ">a first one\nACGT\nAC GT\r\n\n>b\n;comment\nTTT\n>c\n";
        let records = parse(Path::new("x.fa"), text).unwrap();
        let fields: Vec<(String, String, String)> = records
            .iter()
            .map(|r| {
                let m = r.read_lock::<Map>().unwrap();
                (
                    m["id"].to_string(),
                    m["description"].to_string(),
                    m["seq"].to_string(),
                )
            })
            .collect();
        assert_eq!(
            fields,
            [
                ("a".into(), "first one".into(), "ACGTACGT".into()),
                ("b".into(), "".into(), "TTT".into()),
                ("c".into(), "".into(), "".into()),
            ]
        );
        let err = parse(Path::new("x.fa"), "ACGT\n>a\n").unwrap_err();
        assert!(err.starts_with("x.fa:1: sequence data before"), "{err}");
        let err = parse(Path::new("x.fa"), ">a\nAC\n> \n").unwrap_err();
        assert!(err.starts_with("x.fa:3: a '>' header without"), "{err}");
    }
}
