//! Maintenance mode (module-protocol.md §4): while `etc/billmgr.DoNothing`
//! exists, lifecycle commands do nothing and succeed; BILLmanager keeps the
//! running operation and reruns it later. Checked before the database, the
//! upstream or mgrctl is touched.

use crate::paths::MgrRoot;

pub fn active(root: &MgrRoot) -> bool {
    root.do_nothing_flag().exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_file_switches_it_on() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert!(!active(&root));
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(root.do_nothing_flag(), "").unwrap();
        assert!(active(&root));
    }
}
