//! `cargo mango install <client>`: the project's entry in an MCP client's configuration
//! (FastMCP's `fastmcp install`): the release binary serving over stdio, with
//! `MANGO_SETTINGS` pointing at the project's `Mango.toml`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::runner;
use crate::cli::{BuildArgs, Client};
use crate::error::{Error, Result};
use crate::fsx::write_atomic;
use crate::project::Project;

/// Where a client keeps its MCP servers, and under which key.
struct Target {
    /// The configuration file (none: print the JSON).
    file: Option<PathBuf>,
    /// The object that holds the servers by name.
    key: &'static str,
    /// Whether an entry says `"type": "stdio"` (clients whose format has it).
    typed: bool,
}

/// The user's home folder, as the clients' documentation places their files.
fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or_else(|| Error::Manifest {
            path: PathBuf::from("$HOME"),
            message: "HOME is not set: cannot tell where the client keeps its settings".into(),
        })
}

/// Claude Desktop's file: `~/Library/Application Support/Claude` on macOS,
/// `%APPDATA%\Claude` on Windows, `$XDG_CONFIG_HOME/Claude` (`~/.config/Claude`)
/// elsewhere.
fn claude_desktop() -> Result<PathBuf> {
    let dir = if cfg!(target_os = "macos") {
        home()?.join("Library/Application Support/Claude")
    } else if cfg!(windows) {
        std::env::var_os("APPDATA")
            .map(PathBuf::from)
            .map_or_else(|| home().map(|h| h.join("AppData/Roaming")), Ok)?
            .join("Claude")
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .map_or_else(|| home().map(|h| h.join(".config")), Ok)?
            .join("Claude")
    };
    Ok(dir.join("claude_desktop_config.json"))
}

fn target(client: Client, project: &Project) -> Result<Target> {
    Ok(match client {
        Client::ClaudeDesktop => Target {
            file: Some(claude_desktop()?),
            key: "mcpServers",
            typed: false,
        },
        // Claude Code's project scope: `.mcp.json` at the project's root, shared with
        // whoever works on it.
        Client::ClaudeCode => Target {
            file: Some(project.root.join(".mcp.json")),
            key: "mcpServers",
            typed: true,
        },
        Client::Cursor => Target {
            file: Some(home()?.join(".cursor/mcp.json")),
            key: "mcpServers",
            typed: false,
        },
        // VS Code's workspace file: `.vscode/mcp.json`, servers under `servers`.
        Client::Vscode => Target {
            file: Some(project.root.join(".vscode/mcp.json")),
            key: "servers",
            typed: true,
        },
        Client::McpJson => Target {
            file: None,
            key: "mcpServers",
            typed: false,
        },
    })
}

/// `K=V` → (K, V).
fn env_pair(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(Error::InvalidName {
            name: text.to_owned(),
            what: "--env",
            why: "write it as NAME=value".into(),
        }),
    }
}

/// The configuration file's object, or why it cannot be merged into (nothing is
/// written then).
fn read_config(path: &Path) -> Result<Map<String, Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(Error::io(path)(e)),
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::Manifest {
            path: path.to_owned(),
            message:
                "is not a JSON object; fix or move it, then install again (it was left untouched)"
                    .into(),
        }),
        Err(e) => Err(Error::Manifest {
            path: path.to_owned(),
            message: format!(
                "is not valid JSON ({e}); fix or move it, then install again (it was left untouched)"
            ),
        }),
    }
}

pub struct InstallArgs {
    pub client: Client,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub dry_run: bool,
    pub build: BuildArgs,
}

pub fn run(args: InstallArgs) -> Result<ExitCode> {
    let project = Project::find(args.build.manifest_path.as_deref())?;
    project.sync()?;
    let env: Vec<(String, String)> = args
        .env
        .iter()
        .map(|e| env_pair(e))
        .collect::<Result<_>>()?;
    let target = target(args.client, &project)?;
    let name = args.name.clone().unwrap_or_else(|| project.name.clone());
    let mut build = args.build.clone();
    if !build.release && build.profile.is_none() {
        build.release = true;
    }
    let binary = runner::build(&project, &build)?;
    let binary = binary.canonicalize().unwrap_or(binary);
    let settings = project.root.join("Mango.toml");
    let mut vars = Map::new();
    vars.insert(
        "MANGO_SETTINGS".into(),
        Value::String(settings.display().to_string()),
    );
    for (k, v) in env {
        vars.insert(k, Value::String(v));
    }
    let mut entry = Map::new();
    if target.typed {
        entry.insert("type".into(), json!("stdio"));
    }
    entry.insert("command".into(), json!(binary.display().to_string()));
    entry.insert("args".into(), json!(["serve", "--transport", "stdio"]));
    entry.insert("env".into(), Value::Object(vars));
    let Some(file) = target.file else {
        let out = json!({ target.key: { name.clone(): entry } });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    };
    let mut config = read_config(&file)?;
    let servers = config
        .entry(target.key)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err(Error::Manifest {
            path: file,
            message: format!(
                "its `{}` is not an object; fix it, then install again (it was left untouched)",
                target.key
            ),
        });
    };
    let replaced = servers.insert(name.clone(), Value::Object(entry)).is_some();
    let text = serde_json::to_string_pretty(&Value::Object(config)).unwrap_or_default() + "\n";
    if args.dry_run {
        println!("{} (not written: --dry-run)", file.display());
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if file.is_file() {
        let backup = file.with_extension("json.bak");
        std::fs::copy(&file, &backup).map_err(Error::io(&backup))?;
        eprintln!("kept the previous file as {}", backup.display());
    }
    write_atomic(&file, &text)?;
    println!(
        "{} the server `{name}` in {} ({}); restart the client to pick it up",
        if replaced { "updated" } else { "added" },
        file.display(),
        binary.display()
    );
    Ok(ExitCode::SUCCESS)
}
