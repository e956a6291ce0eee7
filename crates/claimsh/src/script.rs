//! Scripts before they run: compile them (errors as `file:line:col`), and look for the mistakes
//! a cluster would otherwise find on every node — calls to functions that exist under no
//! signature, and wrong argument counts — using the signatures the engine itself reports.

use crate::api::reference::Function;
use crate::exit;
use crate::stdout::outln;
use crate::words::nearest;
use rhai::{AST, ASTNode, Engine, EvalAltResult, Expr, Position, Stmt};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Read and compile a script; on failure print `file:line:col: message` and return `Err(code)`.
pub fn compile(path: &Path) -> Result<AST, i32> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("claimsh: cannot read script {}: {e}", path.display());
            return Err(exit::USAGE);
        }
    };
    let mut engine = Engine::new();
    engine.disable_symbol("eval");
    engine.compile(&text).map_err(|e| {
        let err: EvalAltResult = e.into();
        eprintln!(
            "{}",
            crate::api::describe(&path.display().to_string(), &err)
        );
        exit::USAGE
    })
}

/// Names the engine handles itself: they are in no package, so in no signature list.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "eval",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "this",
    "global",
];

/// Every function a script can call, by name: each signature's parameter count and text.
#[derive(Default)]
pub struct Signatures {
    by_name: BTreeMap<String, Vec<(usize, String)>>,
    /// Functions the script defines (called as methods, `this` is not a parameter).
    scripted: HashSet<String>,
}

impl Signatures {
    /// The engine's functions, claimsh's and Rhai's standard packages, from their metadata
    /// (properties such as `img.width` are no calls, so they are left out).
    pub fn of(engine: &Engine) -> Signatures {
        let mut signatures = Signatures::default();
        let functions = engine.collect_fn_metadata(None, Function::from_info, true);
        for f in functions
            .into_iter()
            .filter(|f| !f.getter && !f.name.contains('$'))
        {
            signatures
                .by_name
                .entry(f.name.clone())
                .or_default()
                .push((f.params.len(), f.types()));
        }
        signatures
    }

    /// Add the functions `ast` defines.
    fn add_script(&mut self, ast: &AST) {
        for f in ast.iter_functions() {
            let text = format!("{}({})", f.name, f.params.join(", "));
            self.by_name
                .entry(f.name.to_string())
                .or_default()
                .push((f.params.len(), text));
            self.scripted.insert(f.name.to_string());
        }
    }

    /// What is wrong with calling `name` with `args` arguments (a method call passes its object
    /// too), or `None` if some signature fits.
    fn problem(&self, name: &str, args: usize, method: bool) -> Option<String> {
        let Some(signatures) = self.by_name.get(name) else {
            let close = self.nearest(name);
            return Some(match close.as_slice() {
                [] => format!("no function {name} exists (see `claimsh api`)"),
                _ => format!(
                    "no function {name} exists — did you mean {}?",
                    close.join(", ")
                ),
            });
        };
        let given = args + usize::from(method);
        let fits = signatures.iter().any(|(n, _)| *n == given)
            || (method
                && self.scripted.contains(name)
                && signatures.iter().any(|(n, _)| *n == args));
        let shown = crate::words::count(given as u64, "argument", "arguments");
        let object = if method { " (the object included)" } else { "" };
        (!fits).then(|| format!("{name} called with {shown}{object}; {}", self.takes(name)))
    }

    /// Function names (not operators) a typo away from `name`.
    fn nearest(&self, name: &str) -> Vec<&str> {
        let names = self.by_name.keys().map(String::as_str);
        nearest(
            name,
            names.filter(|n| n.starts_with(|c: char| c.is_alphabetic() || c == '_')),
        )
    }

    /// `threshold takes: threshold(img: Image, level: f64) -> Mask | ...`.
    pub fn takes(&self, name: &str) -> String {
        let texts: Vec<&str> = self
            .by_name
            .get(name)
            .map(|s| s.iter().map(|(_, t)| t.as_str()).collect())
            .unwrap_or_default();
        format!("{name} takes: {}", texts.join(" | "))
    }

    /// A hint for a run-time "function not found" error: what that name takes, or the names
    /// near it.
    fn hint_for(&self, name: &str) -> String {
        if self.by_name.contains_key(name) {
            self.takes(name)
        } else {
            let close = self.nearest(name);
            match close.as_slice() {
                [] => "no function of that name exists (see `claimsh api`)".into(),
                _ => format!("did you mean {}?", close.join(", ")),
            }
        }
    }
}

/// For a run-time `Function not found: gausian (Image, f64)`: `did you mean gaussian?`, or
/// for a known name, the signatures it has.
pub fn not_found_hint(engine: &Engine, err: &EvalAltResult) -> Option<String> {
    let EvalAltResult::ErrorFunctionNotFound(what, _) = err else {
        return None;
    };
    let name = what.split([' ', '(']).next().unwrap_or(what);
    Some(Signatures::of(engine).hint_for(name))
}

/// Every call in `ast` that no signature fits, with its position, in source order.
pub fn problems(ast: &AST, engine: &Engine) -> Vec<(Position, String)> {
    let mut signatures = Signatures::of(engine);
    signatures.add_script(ast);
    let variables = variable_names(ast);
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos))) => (call, *pos, false),
            Some(ASTNode::Expr(Expr::MethodCall(call, pos))) => (call, *pos, true),
            _ => return true,
        };
        let name = call.name.as_str();
        let plain = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && !name.contains('$')
            && call.namespace.is_empty()
            && !KEYWORDS.contains(&name)
            && !variables.contains(name);
        if plain && let Some(problem) = signatures.problem(name, call.args.len(), method) {
            found.push((pos, problem));
        }
        true
    });
    found.sort_by_key(|(pos, _)| (pos.line(), pos.position()));
    found
}

/// Names the script uses as variables, parameters, properties or map keys: `f(x)` may call a
/// closure held in `f`, and `obj.f(x)` one held in `obj.f`.
fn variable_names(ast: &AST) -> HashSet<String> {
    let mut names: HashSet<String> = ast
        .iter_functions()
        .flat_map(|f| f.params.into_iter().map(str::to_string))
        .collect();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => names.insert(x.0.name.to_string()),
            Some(ASTNode::Stmt(Stmt::For(x, ..))) => names.insert(x.0.name.to_string()),
            Some(ASTNode::Expr(Expr::Variable(x, ..))) => names.insert(x.1.to_string()),
            // `obj.f(x)` calls a closure held in the map's property `f`.
            Some(ASTNode::Expr(Expr::Property(x, ..))) => names.insert(x.2.to_string()),
            Some(ASTNode::Expr(Expr::Map(x, ..))) => {
                names.extend(x.0.iter().map(|(key, _)| key.name.to_string()));
                true
            }
            // A map literal of constants, folded by the optimizer.
            Some(ASTNode::Expr(Expr::DynamicConstant(value, ..))) => {
                if let Some(map) = value.read_lock::<rhai::Map>() {
                    names.extend(map.keys().map(|key| key.to_string()));
                }
                true
            }
            _ => false,
        };
        true
    });
    names
}

/// An engine with every claimsh function registered, to read signatures from: bound to a
/// worker whose ledger lives in a temporary folder, removed again before returning (the engine
/// never runs a script).
pub fn reference_engine() -> anyhow::Result<Engine> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("claimsh-check-{}-{nanos}", std::process::id()));
    let ledger = claim_core::Ledger::open(&dir, claim_core::LedgerOptions::default())?;
    let process = crate::worker::Process {
        ledger: ledger.clone(),
        once_ledger: ledger,
        script_dir: dir.clone(),
        script_name: String::new(),
        host: String::new(),
        workers: 1,
        stop: Default::default(),
        failed_items: Default::default(),
        failures_in_a_row: Default::default(),
        max_failures: None,
        ast: Default::default(),
        pool: claim_pool::Pool::new(1),
        par_progress: Default::default(),
        item_timeout: None,
        outcome: Default::default(),
    };
    let worker = std::sync::Arc::new(crate::worker::Worker::new(process.into(), 0));
    let engine = crate::api::engine(worker, None);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(engine)
}

/// `claimsh check`: compile, then report every call no signature fits, as
/// `file:line:col: message`. The exit code: 0 when clean, 2 otherwise.
pub fn check(path: &Path) -> anyhow::Result<i32> {
    let ast = match compile(path) {
        Ok(ast) => ast,
        Err(code) => return Ok(code),
    };
    let found = problems(&ast, &reference_engine()?);
    let name = path.display();
    for (pos, problem) in &found {
        match (pos.line(), pos.position()) {
            (Some(line), Some(col)) => eprintln!("{name}:{line}:{col}: {problem}"),
            _ => eprintln!("{name}: {problem}"),
        }
    }
    if found.is_empty() {
        outln!("{name}: ok");
        Ok(exit::OK)
    } else {
        Ok(exit::USAGE)
    }
}
