//! The script reference, read from Rhai's metadata: every function's name, parameters, return
//! type and doc comment (the `///` lines above it in `api/*.rs`), grouped by domain. `claimsh api`
//! prints it as Markdown or JSON, and `claimsh check` shows the same parameter types.

use rhai::FuncInfo;
use rhai::{Engine, FnAccess, Module};
use serde_json::{Value, json};

/// One script function as the reference shows it.
#[derive(Debug, Clone)]
pub struct Function {
    /// The name a script calls (for a property, the property: `width`).
    pub name: String,
    /// Whether it is a property read as `img.width`.
    pub getter: bool,
    /// Parameter names (`_` when the function has none recorded) and types as a script sees
    /// them (`int`, `float`, `String`, `Image`, ...).
    pub params: Vec<(String, String)>,
    /// The return type as a script sees it; empty for none.
    pub returns: String,
    /// The doc comment, without the `///`.
    pub doc: String,
}

impl Function {
    /// The function described by Rhai's metadata; `None` for a private one.
    pub fn from_info(info: FuncInfo) -> Option<Function> {
        let m = info.metadata;
        if m.access == FnAccess::Private {
            return None;
        }
        let (name, getter) = match m.name.strip_prefix("get$") {
            Some(property) => (property.to_string(), true),
            None => (m.name.to_string(), false),
        };
        let mut params: Vec<(String, String)> = m
            .params_info
            .iter()
            .map(|p| match p.split_once(':') {
                Some((name, typ)) => (name.trim().to_string(), shown_type(typ)),
                None => ("_".to_string(), shown_type(p)),
            })
            .collect();
        params.resize(m.num_params, ("_".into(), String::new()));
        let doc = m
            .comments
            .iter()
            .flat_map(|c| c.lines())
            .map(|line| {
                let line = line.trim_start();
                let line = line.strip_prefix("///").unwrap_or(line);
                line.strip_prefix(' ').unwrap_or(line)
            })
            .collect::<Vec<_>>()
            .join("\n");
        Some(Function {
            name,
            getter,
            params,
            returns: shown_type(&m.return_type),
            doc,
        })
    }

    /// `claim(item: any) -> bool`; a property as `Image.width -> int`.
    pub fn signature(&self) -> String {
        let returns = match self.returns.as_str() {
            "" => String::new(),
            r => format!(" -> {r}"),
        };
        if self.getter {
            let on = self.params.first().map_or("", |(_, t)| t.as_str());
            return format!("{on}.{}{returns}", self.name);
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, typ)| match (name.as_str(), typ.as_str()) {
                (_, "") => name.clone(),
                ("_", _) => typ.clone(),
                _ => format!("{name}: {typ}"),
            })
            .collect();
        format!("{}({}){returns}", self.name, params.join(", "))
    }

    /// `threshold(Image, float) -> Mask`: the signature with types only, as `check` shows it.
    pub fn types(&self) -> String {
        let types: Vec<&str> = self.params.iter().map(|(_, t)| t.as_str()).collect();
        let returns = match self.returns.as_str() {
            "" => String::new(),
            r => format!(" -> {r}"),
        };
        format!("{}({}){returns}", self.name, types.join(", "))
    }

    /// The doc's prose, up to its first code block, on one line.
    pub fn summary(&self) -> String {
        let prose = self.doc.split("```").next().unwrap_or_default();
        prose.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The doc's ```` ```rhai ```` examples.
    pub fn examples(&self) -> Vec<String> {
        rhai_blocks(&self.doc)
    }

    fn to_json(&self, domain: &str) -> Value {
        let params: Vec<Value> = self
            .params
            .iter()
            .map(|(name, typ)| json!({"name": name, "type": typ}))
            .collect();
        json!({
            "domain": domain,
            "name": self.name,
            "kind": if self.getter { "property" } else { "function" },
            "params": params,
            "returns": self.returns,
            "signature": self.signature(),
            "doc": self.doc,
            "examples": self.examples(),
        })
    }
}

/// The ```` ```rhai ```` blocks of a Markdown text, without their fences.
pub fn rhai_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    // Inside a fenced block: `Some(lines)` for a Rhai one, `None` for another language.
    let mut open: Option<Option<Vec<&str>>> = None;
    for line in text.lines() {
        match (line.trim_start().strip_prefix("```"), &mut open) {
            (Some(_), Some(block)) => {
                blocks.extend(block.take().map(|lines| lines.join("\n")));
                open = None;
            }
            (Some(lang), None) => open = Some((lang.trim() == "rhai").then(Vec::new)),
            (None, Some(Some(lines))) => lines.push(line),
            _ => {}
        }
    }
    blocks
}

/// A Rust type as a script sees it: `int`, `float`, `String`, `any`, `Fn`; a fallible function's
/// `R<T>` as `T`; `()` as nothing.
pub fn shown_type(rust: &str) -> String {
    let t = rust.trim();
    let t = t.strip_prefix("&mut ").unwrap_or(t).trim();
    let t = t.strip_prefix('&').unwrap_or(t).trim();
    let t = t.strip_prefix("rhai::").unwrap_or(t);
    for (open, close) in [
        ("R<", ">"),
        ("RhaiResultOf<", ">"),
        ("Result<", ",Box<EvalAltResult>>"),
    ] {
        let compact = t.replace(' ', "");
        if let Some(inner) = compact
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return shown_type(inner);
        }
    }
    match t.replace(' ', "").as_str() {
        "()" | "" => String::new(),
        "INT" | "i64" | "i32" | "u8" | "u16" | "u32" | "u64" | "usize" => "int".into(),
        "FLOAT" | "f64" | "f32" => "float".into(),
        "str" | "ImmutableString" | "String" | "string" => "String".into(),
        "Dynamic" | "?" => "any".into(),
        "FnPtr" => "Fn".into(),
        "char" => "char".into(),
        "Range<INT>" | "Range<i64>" | "ExclusiveRange" => "Range".into(),
        "RangeInclusive<INT>" | "RangeInclusive<i64>" | "InclusiveRange" => "RangeInclusive".into(),
        other => other.to_string(),
    }
}

/// The functions of one domain's module, by name (overloads by parameter count).
pub fn functions(module: Module) -> Vec<Function> {
    let mut engine = Engine::new_raw();
    engine.register_global_module(module.into());
    let mut functions = engine.collect_fn_metadata(None, Function::from_info, false);
    functions.sort_by(|a, b| {
        (a.getter, &a.name, a.params.len(), a.signature()).cmp(&(
            b.getter,
            &b.name,
            b.params.len(),
            b.signature(),
        ))
    });
    functions
}

/// Every domain's functions, in the order of [`super::domains`].
pub fn by_domain() -> Vec<(&'static str, Vec<Function>)> {
    super::domains()
        .into_iter()
        .map(|(domain, module)| (domain, functions(module)))
        .collect()
}

/// The reference as Markdown: a section per domain, a line per function.
pub fn markdown() -> String {
    let mut out = String::from("# claimsh script API\n\n");
    for (domain, functions) in by_domain() {
        out.push_str(&format!("## {domain}\n\n"));
        for f in functions {
            out.push_str(&format!("- `{}` — {}\n", f.signature(), f.summary()));
        }
        out.push('\n');
    }
    out.push_str(
        "Also: `ARGS` (array of the script's arguments); `print` and `debug` go to the log.\n",
    );
    out
}

/// The reference as JSON: an array of every function claimsh registers (Rhai's own left out).
pub fn json() -> Value {
    let functions: Vec<Value> = by_domain()
        .iter()
        .flat_map(|(domain, functions)| functions.iter().map(|f| f.to_json(domain)))
        .collect();
    Value::Array(functions)
}
