//! The catalog cache: `var/pmsslreseller/catalog-<module id>.json`, one file
//! per processing module, and its template view beside it, each written
//! atomically (temp file + rename) so a reader never sees half a file and a
//! failed refresh leaves the old cache intact.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::diff::TariffFacts;
use super::{Catalog, Tariff, TemplateFlags, READABLE_CACHE_FORMATS};
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

const PREFIX: &str = "catalog-";
const SUFFIX: &str = ".json";

pub fn path(root: &MgrRoot, module_id: u64) -> PathBuf {
    root.state_dir()
        .join(format!("{PREFIX}{module_id}{SUFFIX}"))
}

/// The template view of the same cache, `templates-<module id>.json`: what
/// `features` reads (measured: reading the whole catalog for 5,000 templates
/// cost more than the 10 ms `features` may take). Written before the catalog
/// by [`save`]; missing (a cache written by an older version) or unreadable,
/// `features` reads the catalog file instead.
pub fn templates_path(root: &MgrRoot, module_id: u64) -> PathBuf {
    root.state_dir()
        .join(format!("templates-{module_id}{SUFFIX}"))
}

/// Module id of a cache file name, `catalog-<id>.json`.
fn module_of(file_name: &str) -> Option<u64> {
    file_name
        .strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

fn cache_error(path: &Path, what: String) -> ModuleError {
    ModuleError::new(ErrorKind::Config, what).with_object(path.display().to_string())
}

/// Which file a cache write produced: enough to tell later that it is
/// still that file, neither replaced (a new inode: every write renames a new
/// file into place), nor rewritten, nor truncated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub ino: u64,
    pub len: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// The file at `path` now; `None` when it cannot be read.
    pub fn current(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// What [`save_identified`] wrote: the catalog's path and which files the
/// two are now.
#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    pub view: FileId,
    pub catalog: FileId,
}

/// Write the cache of `catalog.module_id`, replacing the old one atomically.
pub fn save(root: &MgrRoot, catalog: &Catalog) -> Result<PathBuf> {
    save_identified(root, catalog).map(|s| s.path)
}

/// [`save`], saying which files it wrote (for `catalog::stamp`).
pub fn save_identified(root: &MgrRoot, catalog: &Catalog) -> Result<Saved> {
    let dir = root.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        let hint = crate::paths::write_hint(&e);
        cache_error(&dir, format!("cannot create {}: {e}{hint}", dir.display()))
    })?;
    // The view first: a crash between the two renames leaves templates of
    // the newer export beside the older catalog, which `open` refuses with
    // "refresh the catalog" for a tariff it lacks; never the other way round,
    // templates missing for tariffs the catalog sells.
    let view = write(
        &templates_path(root, catalog.module_id),
        &TemplateCatalogRef::of(catalog),
    )?;
    save_catalog_only(root, catalog, view)
}

/// [`save_identified`] of the catalog file alone, for a refresh that found
/// the template view the same as before (same templates, same names):
/// writing 5,000 names again would change nothing. `view`: which file the
/// view is.
pub fn save_catalog_only(root: &MgrRoot, catalog: &Catalog, view: FileId) -> Result<Saved> {
    // Compact: read by the module on every `open` and refresh;
    // `pmsslreseller catalog show` is the human view.
    let target = path(root, catalog.module_id);
    let written = write_catalog(&target, catalog)?;
    Ok(Saved {
        path: target,
        view,
        catalog: written,
    })
}

/// One cache file as compact JSON, replaced atomically. Streamed to the
/// file through a small buffer: a 3 MiB string first would be 700 more
/// fresh pages to fault in and one more copy.
fn write<T: Serialize>(path: &Path, value: &T) -> Result<FileId> {
    write_with(path, |out| {
        serde_json::to_writer(out, value).map_err(std::io::Error::from)
    })
}

/// One cache file, what `fill` writes, replaced atomically
/// (`paths::write_atomic_with`); which file it is now.
fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<FileId> {
    crate::paths::write_atomic_with(path, fill)
        .map(|meta| FileId::of(&meta))
        .map_err(|e| {
            let hint = crate::paths::write_hint(&e);
            cache_error(path, format!("cannot write {}: {e}{hint}", path.display()))
        })
}

/// The catalog file as [`write`] writes it, the same bytes, with half of
/// the tariffs serialized on a second thread while the other half is
/// streamed (measured: serializing 5,000 tariffs was a sixth of a changed
/// refresh).
fn write_catalog(path: &Path, catalog: &Catalog) -> Result<FileId> {
    write_with(path, |out| {
        write_catalog_json(out, catalog, PARALLEL_WRITE_MIN_TARIFFS)
    })
}

/// Fewer tariffs are written on one thread: a second would cost more.
const PARALLEL_WRITE_MIN_TARIFFS: usize = 500;

/// `catalog` as compact JSON into `out`, byte for byte what
/// `serde_json::to_writer` writes; from `parallel_min` tariffs on, the
/// second half of them serialized on another thread.
fn write_catalog_json(
    out: &mut impl Write,
    catalog: &Catalog,
    parallel_min: usize,
) -> std::io::Result<()> {
    if catalog.tariffs.len() < parallel_min {
        return serde_json::to_writer(out, catalog).map_err(std::io::Error::from);
    }
    // The catalog without its tariffs, to be cut where they go. A struct
    // literal: a field added to `Catalog` cannot be forgotten here.
    let frame = Catalog {
        format: catalog.format,
        module_id: catalog.module_id,
        fetched_at: catalog.fetched_at.clone(),
        tariffs: Vec::new(),
        skipped: catalog.skipped.clone(),
        warnings: catalog.warnings.clone(),
    };
    let frame = serde_json::to_vec(&frame)?;
    // The key is the first such bytes: inside a string a quote is escaped.
    const EMPTY: &[u8] = b"\"tariffs\":[]";
    let Some(cut) = frame
        .windows(EMPTY.len())
        .position(|w| w == EMPTY)
        .map(|at| at + EMPTY.len() - 1)
    else {
        return serde_json::to_writer(out, catalog).map_err(std::io::Error::from);
    };
    // Elements as serde_json's compact sequence writes them.
    fn elements(out: &mut impl Write, tariffs: &[Tariff]) -> std::io::Result<()> {
        for (i, t) in tariffs.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, t)?;
        }
        Ok(())
    }
    let (first, second) = catalog.tariffs.split_at(catalog.tariffs.len() / 2);
    let serialize_second = || {
        // Most tariffs take less than 512 bytes.
        let mut buf = Vec::with_capacity(second.len() * 512);
        elements(&mut buf, second).map(|()| buf)
    };
    out.write_all(&frame[..cut])?;
    let second = std::thread::scope(|scope| {
        let on_thread = std::thread::Builder::new()
            .name("catalog-write".into())
            .spawn_scoped(scope, serialize_second);
        elements(out, first)?;
        match on_thread {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("serializing the catalog failed"))),
            Err(_) => serialize_second(),
        }
    })?;
    if !first.is_empty() && !second.is_empty() {
        out.write_all(b",")?;
    }
    out.write_all(&second)?;
    out.write_all(&frame[cut..])
}

/// The cache of one module; `Ok(None)` when there is none yet.
pub fn load(root: &MgrRoot, module_id: u64) -> Result<Option<Catalog>> {
    load_file::<Catalog>(&path(root, module_id), module_id, |c| {
        (c.format, c.module_id)
    })
}

/// The text of the cache file of one module, for [`facts`]; `Ok(None)` when
/// there is none yet.
pub fn read_text(root: &MgrRoot, module_id: u64) -> Result<Option<String>> {
    read_file(&path(root, module_id))
}

/// What a refresh's diff needs of the cached catalog, borrowed from the
/// cache file's text.
#[derive(Debug, Deserialize)]
pub struct CachedFacts<'a> {
    format: u32,
    module_id: u64,
    #[serde(borrow)]
    pub fetched_at: Cow<'a, str>,
    #[serde(borrow)]
    pub tariffs: Vec<TariffFacts<'a>>,
}

/// The [`CachedFacts`] of the cache of `module_id` whose text ([`read_text`])
/// is `text`; checked for format and module like every read.
pub fn facts<'t>(root: &MgrRoot, module_id: u64, text: &'t str) -> Result<CachedFacts<'t>> {
    parse_file(
        &path(root, module_id),
        module_id,
        text,
        |c: &CachedFacts| (c.format, c.module_id),
    )
}

/// What `features` needs of one cached tariff, read from the same file
/// without the rest (periods, add-ons, warnings): measured, `features` with
/// 5,000 templates spent most of its time building the full model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateTariff {
    pub id: u64,
    pub name: String,
    pub name_ru: Option<String>,
    pub name_en: Option<String>,
    /// As its summary (`"wildcard,www"`): a third of the view's size.
    #[serde(with = "super::flags_text")]
    pub flags: TemplateFlags,
}

impl TemplateTariff {
    pub fn template_id(&self) -> String {
        super::template_id(self.id)
    }

    pub fn display_name_en(&self) -> &str {
        self.name_en.as_deref().unwrap_or(&self.name)
    }

    pub fn display_name_ru(&self) -> &str {
        self.name_ru.as_deref().unwrap_or(&self.name)
    }
}

/// The template view of one module's cache, as `templates-<id>.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCatalog {
    pub format: u32,
    pub module_id: u64,
    pub tariffs: Vec<TemplateTariff>,
}

/// A [`TemplateCatalog`] borrowed from the catalog it is the view of:
/// serialised to the same JSON without copying 5,000 names first.
#[derive(Serialize)]
struct TemplateCatalogRef<'a> {
    format: u32,
    module_id: u64,
    tariffs: Vec<TemplateTariffRef<'a>>,
}

/// A [`TemplateTariff`] borrowed from its [`Tariff`].
#[derive(Serialize)]
struct TemplateTariffRef<'a> {
    id: u64,
    name: &'a str,
    name_ru: Option<&'a str>,
    name_en: Option<&'a str>,
    #[serde(with = "super::flags_text")]
    flags: TemplateFlags,
}

impl<'a> TemplateCatalogRef<'a> {
    fn of(catalog: &'a Catalog) -> TemplateCatalogRef<'a> {
        TemplateCatalogRef {
            format: catalog.format,
            module_id: catalog.module_id,
            tariffs: catalog
                .tariffs
                .iter()
                .map(|t: &'a Tariff| TemplateTariffRef {
                    id: t.id,
                    name: &t.name,
                    name_ru: t.name_ru.as_deref(),
                    name_en: t.name_en.as_deref(),
                    flags: t.flags,
                })
                .collect(),
        }
    }
}

impl TemplateCatalog {
    pub fn of(catalog: &Catalog) -> TemplateCatalog {
        TemplateCatalog {
            format: catalog.format,
            module_id: catalog.module_id,
            tariffs: catalog
                .tariffs
                .iter()
                .map(|t| TemplateTariff {
                    id: t.id,
                    name: t.name.clone(),
                    name_ru: t.name_ru.clone(),
                    name_en: t.name_en.clone(),
                    flags: t.flags,
                })
                .collect(),
        }
    }
}

/// One cache file as `T` (the whole catalog, or its template view), checked
/// for format and module like every read.
fn load_file<T: serde::de::DeserializeOwned>(
    p: &Path,
    module_id: u64,
    identity: impl Fn(&T) -> (u32, u64),
) -> Result<Option<T>> {
    match read_file(p)? {
        Some(text) => parse_file(p, module_id, &text, identity).map(Some),
        None => Ok(None),
    }
}

/// The text of a cache file; `Ok(None)` when there is none.
fn read_file(p: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(cache_error(p, format!("cannot read {}: {e}", p.display()))),
    }
}

/// A cache file's `text` as `T`, checked for format and module.
fn parse_file<'t, T: Deserialize<'t>>(
    p: &Path,
    module_id: u64,
    text: &'t str,
    identity: impl Fn(&T) -> (u32, u64),
) -> Result<T> {
    let value: T = serde_json::from_str(text).map_err(|e| {
        cache_error(
            p,
            format!(
                "the catalog cache {} is damaged ({e}); run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        )
    })?;
    let (format, module) = identity(&value);
    if module != module_id || !READABLE_CACHE_FORMATS.contains(&format) {
        return Err(cache_error(
            p,
            format!(
                "the catalog cache {} is from another version or module; run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        ));
    }
    Ok(value)
}

/// The cache of one module, or an error telling the admin to fetch it.
pub fn load_required(root: &MgrRoot, module_id: u64) -> Result<Catalog> {
    load(root, module_id)?.ok_or_else(|| {
        let p = path(root, module_id);
        cache_error(
            &p,
            format!(
                "no upstream catalog for processing module {module_id} yet ({} is missing); run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        )
    })
}

/// Module ids that have a cache file, ascending.
pub fn cached_modules(root: &MgrRoot) -> Vec<u64> {
    let mut ids: Vec<u64> = match std::fs::read_dir(root.state_dir()) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| module_of(&e.file_name().to_string_lossy()))
            .collect(),
        Err(_) => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The template view of every readable cache, by module id ascending, plus a
/// message per unreadable one (the caller logs them; `features` must answer
/// anyway).
pub fn load_all_templates(root: &MgrRoot) -> (Vec<TemplateCatalog>, Vec<String>) {
    load_templates(root, cached_modules(root))
}

/// [`load_all_templates`] but for module `module_id`'s (whose catalog the
/// caller holds).
pub fn load_all_templates_except(
    root: &MgrRoot,
    module_id: u64,
) -> (Vec<TemplateCatalog>, Vec<String>) {
    let mut ids = cached_modules(root);
    ids.retain(|id| *id != module_id);
    load_templates(root, ids)
}

fn load_templates(root: &MgrRoot, ids: Vec<u64>) -> (Vec<TemplateCatalog>, Vec<String>) {
    let identity = |c: &TemplateCatalog| (c.format, c.module_id);
    let mut catalogs = Vec::new();
    let mut problems = Vec::new();
    for id in ids {
        let view = match load_file(&templates_path(root, id), id, identity) {
            Ok(Some(view)) => Ok(Some(view)),
            // No view yet (older cache) or a damaged one: the catalog itself.
            Ok(None) | Err(_) => load(root, id).map(|c| c.map(|c| TemplateCatalog::of(&c))),
        };
        match view {
            Ok(Some(c)) => catalogs.push(c),
            Ok(None) => {}
            Err(e) => problems.push(e.message),
        }
    }
    (catalogs, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(module_id: u64) -> Catalog {
        crate::catalog::parse_export(
            r#"<doc><pricelist><id>5</id><name>A</name><price currency="EUR"><period cost="1.10" length="12" type="month"/></price></pricelist></doc>"#,
            module_id,
            "2026-11-26T12:00:00Z",
        )
        .unwrap()
    }

    /// Whether the tariffs are written in halves or not, the file is byte
    /// for byte serde_json's: none, one, two, an odd number; a skipped entry
    /// and a warning that quote the key the halves are cut at.
    #[test]
    fn catalog_written_in_halves_is_serde_jsons_bytes() {
        for n in [0usize, 1, 2, 3, 8] {
            let mut c = catalog(7);
            let one = c.tariffs[0].clone();
            c.tariffs = (0..n as u64)
                .map(|i| Tariff {
                    id: 5 + i,
                    name: format!("T{i} \"tariffs\":[] «ру»"),
                    ..one.clone()
                })
                .collect();
            c.warnings = vec!["\"tariffs\":[] in a warning".into()];
            c.skipped = vec![crate::catalog::Skipped {
                position: 2,
                id: Some("\"tariffs\":[]".into()),
                reason: "no <name>".into(),
            }];
            let want = serde_json::to_vec(&c).unwrap();
            for parallel_min in [0, n, n + 1] {
                let mut got = Vec::new();
                write_catalog_json(&mut got, &c, parallel_min).unwrap();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want.clone()).unwrap(),
                    "{n} tariffs, parallel from {parallel_min}"
                );
            }
        }
    }

    #[test]
    fn save_load_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert_eq!(load(&root, 3).unwrap(), None);
        assert!(load_required(&root, 3)
            .unwrap_err()
            .message
            .contains("catalog refresh --module 3"));
        save(&root, &catalog(3)).unwrap();
        save(&root, &catalog(12)).unwrap();
        std::fs::write(root.state_dir().join("catalog-x.json"), "{}").unwrap();
        assert_eq!(load(&root, 3).unwrap(), Some(catalog(3)));
        assert_eq!(cached_modules(&root), vec![3, 12]);
        let (all, problems) = load_all_templates(&root);
        assert_eq!(all.len(), 2);
        assert!(problems.is_empty());
        // Money survives exactly (decimal strings, no float).
        let text = std::fs::read_to_string(path(&root, 3)).unwrap();
        assert!(text.contains("\"1.10\""), "{text}");
    }

    #[test]
    fn damaged_cache_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        std::fs::create_dir_all(root.state_dir()).unwrap();
        std::fs::write(path(&root, 4), "{ not json").unwrap();
        let e = load(&root, 4).unwrap_err();
        assert!(e.message.contains("damaged"), "{}", e.message);
        let (all, problems) = load_all_templates(&root);
        assert!(all.is_empty());
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn flags_are_written_as_one_string_and_format_1_caches_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        let mut c = catalog(7);
        c.tariffs[0].flags = TemplateFlags {
            www: true,
            authemail: true,
            ..TemplateFlags::default()
        };
        save(&root, &c).unwrap();
        let text = std::fs::read_to_string(path(&root, 7)).unwrap();
        assert!(text.contains(r#""flags":"www,authemail""#), "{text}");
        assert!(text.contains(&format!(r#""format":{}"#, super::super::CACHE_FORMAT)));
        assert_eq!(load(&root, 7).unwrap(), Some(c.clone()));
        // A cache of format 1 (before the performance work): flags as nine booleans
        // (an unknown one ignored, as then).
        let old = text
            .replacen(
                &format!(r#""format":{}"#, super::super::CACHE_FORMAT),
                r#""format":1"#,
                1,
            )
            .replace(
                r#""flags":"www,authemail""#,
                r#""flags":{"wildcard":false,"www":true,"multidomain":false,"multidomain_wildcard":false,"orginfo":false,"idn":false,"csraltname":false,"authemail":true,"authdnstxt":false,"future":true}"#,
            );
        std::fs::write(path(&root, 7), &old).unwrap();
        let loaded = load(&root, 7).unwrap().unwrap();
        assert_eq!(loaded.tariffs, c.tariffs);
        // A flag name this version does not know, or another format: refetch.
        std::fs::write(
            path(&root, 7),
            text.replace("www,authemail", "www,teleport"),
        )
        .unwrap();
        assert!(load(&root, 7).unwrap_err().message.contains("damaged"));
        std::fs::write(
            path(&root, 7),
            text.replacen(
                &format!(r#""format":{}"#, super::super::CACHE_FORMAT),
                r#""format":9"#,
                1,
            ),
        )
        .unwrap();
        assert!(load(&root, 7)
            .unwrap_err()
            .message
            .contains("another version"));
    }
}
