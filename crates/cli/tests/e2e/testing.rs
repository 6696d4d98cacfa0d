//! tether inside other projects' test suites, run the way their users run it: the pytest
//! plugin installed with pip (into a scratch directory, from a copy of its sources) and its own
//! tests run with pytest-xdist against this build's `tether`; the CI example script of
//! docs/testing.md run as written; the GitHub Actions job of that page parsed as YAML.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{tether, text, venv_bin};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies a directory tree (files and directories only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // Build leftovers of a manual `pip install .` are not part of the package.
        let skip = name == "build" || name == "__pycache__" || name == ".pytest_cache";
        if skip || name.to_string_lossy().ends_with(".egg-info") {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The number of `def test_` functions under `dir`: how many tests a full run must pass.
fn count_tests(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("def test_"))
                .count()
        })
        .sum()
}

/// Every server started with `TMPDIR=tmp` has exited cleanly: its ephemeral data directory and
/// the plugin's work directory are gone.
fn assert_nothing_left(tmp: &Path) {
    let left: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tether-ephemeral-") || n.starts_with("pytest-tether-"))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        tmp.display()
    );
}

fn check(out: &Output, what: &str) -> String {
    let all = text(out);
    assert!(out.status.success(), "{what} failed:\n{all}");
    all
}

#[test]
fn the_pytest_plugin_installs_with_pip_and_its_tests_pass_in_parallel() {
    let work = tempfile::tempdir().unwrap();
    let package = work.path().join("pytest-tether");
    copy_tree(&repository().join("python/pytest-tether"), &package);
    let site = work.path().join("site");
    let python = venv_bin().join("python");
    // No index, no build isolation: the venv's setuptools and wheel build it offline.
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args([
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
        ])
        .arg(&site)
        .arg(&package)
        .output()
        .unwrap();
    check(&out, "pip install ./python/pytest-tether");

    // From the package's directory, so its pytest settings (-n 2 --dist loadgroup) apply; the
    // plugin comes from the installed copy through its pytest11 entry point.
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = Command::new(&python)
        // `--tether-bin=PATH` in one word: pytest looks for its rootdir among the arguments
        // before it knows which options take values, and would take PATH for a test path.
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-rA"])
        .arg(format!("--tether-bin={}", tether().display()))
        .current_dir(&package)
        .env("TMPDIR", &tmp)
        .env("PYTHONPATH", &site)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("TETHER_BIN")
        .output()
        .unwrap();
    let report = check(&out, "pytest-tether's tests");
    assert!(report.contains("plugins: tether-0.1.0"), "{report}");
    let expected = count_tests(&package.join("tests"));
    assert!(expected >= 9, "{expected} tests found");
    assert!(
        report.contains(&format!(" {expected} passed in ")),
        "every test passes, none skipped:\n{report}"
    );
    assert!(report.contains("2 workers"), "{report}");
    for parallel in [
        "parallel_tests_has_its_own_server",
        "parallel_test_has_its_own_server",
    ] {
        assert!(
            report.contains(parallel),
            "{parallel} did not run:\n{report}"
        );
    }
    assert_nothing_left(&tmp);
}

#[test]
fn the_ci_example_script_runs_its_suite_against_an_ephemeral_server() {
    let script = repository().join("docs/examples/ci/run-tests.sh");
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .env("TETHER_BIN", tether())
        .env("PYTHON", venv_bin().join("python"))
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let report = check(&out, "docs/examples/ci/run-tests.sh");
    assert!(report.contains("tether ready "), "{report}");
    let expected = count_tests(&repository().join("docs/examples/ci/tests"));
    assert!(
        report.contains(&format!(" {expected} passed in ")),
        "{report}"
    );
    // The server's data directory went with it.
    let data_dir = report
        .split_whitespace()
        .find_map(|w| w.strip_prefix("data-dir="))
        .unwrap();
    assert!(
        data_dir.starts_with(tmp.path().to_str().unwrap()),
        "{data_dir}"
    );
    assert!(!Path::new(data_dir).exists(), "{data_dir} is left behind");
    assert_nothing_left(tmp.path());
}

#[test]
fn the_github_actions_job_in_the_docs_is_valid_yaml_that_runs_the_script() {
    let doc = std::fs::read_to_string(repository().join("docs/testing.md")).unwrap();
    let yaml = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/testing.md has a yaml block");
    let program = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))";
    let mut child = Command::new(venv_bin().join("python"))
        .args(["-c", program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), yaml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let json = check(&out, "parsing the workflow");
    let workflow: serde_json::Value = serde_json::from_str(&json).unwrap();
    let steps = workflow["jobs"]["iot-tests"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo install --locked --path crates/cli")),
        "{runs:?}"
    );
    let script = runs
        .iter()
        .find(|r| r.contains("run-tests.sh"))
        .expect("a step runs the script");
    let path = script.split_whitespace().next().unwrap();
    assert!(repository().join(path).exists(), "{path} does not exist");
}
