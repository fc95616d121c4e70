//! `reasoner train` as a user runs it: the smoke recipe learns, two runs with one seed give the
//! same bytes, a run killed with SIGKILL and resumed ends with the unbroken run's weights, and
//! bad configs, datasets and directories are refused with the file, key or line named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reasoner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reasoner")).args(args).output().expect("run reasoner")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config like recipes/smoke-sft.toml with absolute paths, `steps` steps, a checkpoint every
/// `every`, and `extra` lines appended to [optim].
fn sft_config(dir: &Path, steps: usize, every: usize, extra: &str) -> PathBuf {
    let r = repo();
    let text = format!(
        "kind = \"sft\"\nout = \"run\"\nseed = 3\n[model]\ninit = \"{}\"\n[data]\ntrain = \"{}\"\nmax_seq_len = 96\n\
         [optim]\nsteps = {steps}\nbatch_size = 4\ngrad_accum = 2\nlr = 3e-3\nmin_lr = 3e-4\nwarmup_steps = 2\nweight_decay = 0.01\n{extra}\n\
         [checkpoint]\nevery = {every}\nkeep = 2\n",
        r.join("tests/fixtures/qwen2_f32/config.json").display(),
        r.join("recipes/data/smoke-sft.jsonl").display()
    );
    let p = dir.join("sft.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn train(config: &Path, out: &Path, resume: bool) -> Output {
    let (c, o) = (config.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["train", "sft", "--threads", "2", "--config", c, "--out", o];
    if resume {
        args.push("--resume");
    }
    reasoner(&args)
}

fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
        .collect()
}

/// Mean of `key` over rows `range` of a run's metrics.
fn mean_metric(run: &Path, key: &str, range: std::ops::Range<usize>) -> f64 {
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n = range.len() as f64;
    rows[range].iter().map(|r| r[key].as_f64().unwrap()).sum::<f64>() / n
}

#[test]
fn smoke_recipes_learn_and_their_models_load() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("smoke");
    let recipe = repo().join("recipes/smoke-sft.toml");
    let out = reasoner(&["train", "sft", "--config", recipe.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let l = losses(&run);
    assert_eq!(l.len(), 60);
    let (first, last) = (l[..5].iter().sum::<f64>() / 5.0, l[55..].iter().sum::<f64>() / 5.0);
    // Measured: 5.6 over the first five steps, 1.1 over the last five.
    assert!(last < 0.5 * first, "SFT loss did not fall: first steps {first:.3}, last steps {last:.3}");
    let final_dir = run.join("final");
    let info = reasoner(&["info", "--model", final_dir.to_str().unwrap()]);
    assert!(info.status.success(), "{}", stderr(&info));
    let plot = reasoner(&["plot", run.to_str().unwrap(), "--metrics", "loss,lr"]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let png = std::fs::read(run.join("plots/loss.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // GRPO from that model: the reward must rise.
    let grpo_recipe = std::fs::read_to_string(repo().join("recipes/smoke-grpo.toml")).unwrap();
    let cfg = tmp.path().join("grpo.toml");
    std::fs::write(&cfg, grpo_recipe.replace("\"../runs/smoke-sft/final\"", &format!("\"{}\"", final_dir.display())))
        .unwrap();
    let grpo_run = tmp.path().join("grpo");
    let out = reasoner(&["train", "grpo", "--config", cfg.to_str().unwrap(), "--out", grpo_run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (early, late) = (mean_metric(&grpo_run, "reward_mean", 0..5), mean_metric(&grpo_run, "reward_mean", 15..20));
    // Measured: 0.32 over the first five steps, 0.62 over steps 16-20.
    assert!(late > early + 0.15, "GRPO reward did not rise: {early:.3} -> {late:.3}");
    for key in [
        "kl",
        "clip_fraction",
        "grad_norm",
        "response_length",
        "thinking_length",
        "time_generation_s",
        "time_scoring_s",
    ] {
        assert!(mean_metric(&grpo_run, key, 0..20).is_finite(), "{key}");
    }
}

#[test]
fn same_seed_same_weights_and_kill_resume_ends_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = sft_config(tmp.path(), 16, 2, "");
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    for run in [&a, &b] {
        let out = train(&cfg, run, false);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let weights = |run: &Path| std::fs::read(run.join("final/model.safetensors")).unwrap();
    assert!(weights(&a) == weights(&b), "two runs with one seed and thread count differ");

    // Kill at a moment that depends on the clock, after at least one checkpoint exists.
    let bin = env!("CARGO_BIN_EXE_reasoner");
    let mut child = Command::new(bin)
        .args(["train", "sft", "--threads", "2", "--config", cfg.to_str().unwrap(), "--out", c.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !c.join("checkpoints/step-2/trainer_state.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let jitter =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 600) as u64;
    std::thread::sleep(Duration::from_millis(jitter));
    let finished_before_kill = child.try_wait().unwrap().is_some();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    eprintln!("killed after {jitter} ms past the first checkpoint (finished already: {finished_before_kill})");
    let resumed = train(&cfg, &c, true);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(weights(&a) == weights(&c), "a run killed and resumed ends with other weights than an unbroken one");
    // The resumed run's metrics hold each step once, as the unbroken run's do.
    assert_eq!(losses(&a), losses(&c));
}

#[test]
fn bad_configs_data_and_directories_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    // Unknown key, with the nearest known one.
    let cfg = sft_config(tmp.path(), 2, 0, "warmup_step = 1");
    let e = stderr(&train(&cfg, &out, false));
    assert!(e.contains("sft.toml") && e.contains("warmup_step") && e.contains("did you mean `warmup_steps`"), "{e}");
    // A dataset line that is not JSON: file and line.
    let data = tmp.path().join("bad.jsonl");
    std::fs::write(&data, "{\"prompt\": \"a\", \"response\": \"b\"}\nnot json\n").unwrap();
    let cfg = sft_config(tmp.path(), 2, 0, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(repo().join("recipes/data/smoke-sft.jsonl").to_str().unwrap(), data.to_str().unwrap());
    std::fs::write(&cfg, text).unwrap();
    let e = stderr(&train(&cfg, &out, false));
    assert!(e.contains("bad.jsonl:2") && e.contains("not JSON"), "{e}");
    // An empty dataset.
    std::fs::write(&data, "\n").unwrap();
    let e = stderr(&train(&cfg, &tmp.path().join("o2"), false));
    assert!(e.contains("bad.jsonl") && e.contains("no examples"), "{e}");
    // A GGUF as the starting point.
    let gguf = repo().join("tests/fixtures/gguf_llamacpp");
    let some_gguf = std::fs::read_dir(&gguf)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "gguf"))
        .unwrap();
    let cfg2 = tmp.path().join("g.toml");
    std::fs::write(
        &cfg2,
        format!("out = \"r\"\n[model]\npath = \"{}\"\n[data]\ntrain = \"{}\"\n", some_gguf.display(), data.display()),
    )
    .unwrap();
    let e = stderr(&reasoner(&["train", "sft", "--config", cfg2.to_str().unwrap()]));
    assert!(e.contains("GGUF") && e.contains(some_gguf.file_name().unwrap().to_str().unwrap()), "{e}");
    // A run directory that cannot be created.
    let cfg = sft_config(tmp.path(), 2, 0, "");
    let e = stderr(&train(&cfg, Path::new("/dev/null/run"), false));
    assert!(e.contains("/dev/null/run") && e.contains("cannot create the run directory"), "{e}");
    // A directory that already holds a run is not overwritten without --resume.
    let done = tmp.path().join("done");
    assert!(train(&cfg, &done, false).status.success());
    let e = stderr(&train(&cfg, &done, false));
    assert!(e.contains("already holds a run") && e.contains("--resume"), "{e}");
    // The mode and the config's kind disagree.
    let e = stderr(&reasoner(&[
        "train",
        "grpo",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        tmp.path().join("o3").to_str().unwrap(),
    ]));
    assert!(e.contains("does not match"), "{e}");
}

#[test]
fn a_diverging_run_stops_and_keeps_its_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    // A learning rate that blows the weights up within a few steps; clipping off.
    let cfg = sft_config(tmp.path(), 30, 1, "grad_clip = 0.0");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("lr = 3e-3\nmin_lr = 3e-4", "lr = 1e30\nmin_lr = 1e30");
    std::fs::write(&cfg, text).unwrap();
    let out = tmp.path().join("boom");
    let o = train(&cfg, &out, false);
    let e = stderr(&o);
    assert!(!o.status.success() && !e.contains("panicked"), "{e}");
    assert!(e.contains("the loss is") && e.contains("training stopped"), "{e}");
    // Every checkpoint left behind is whole and loads.
    for entry in std::fs::read_dir(out.join("checkpoints")).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_str().unwrap().starts_with("step-") {
            assert!(e.contains(p.to_str().unwrap()) || p.join("trainer_state.json").exists());
            let info = reasoner(&["info", "--model", p.to_str().unwrap()]);
            assert!(info.status.success(), "{}", stderr(&info));
        }
    }
}

/// A damaged checkpoint is refused by name on `--resume`, never loaded in part: a truncated
/// model.safetensors, a truncated optimizer.safetensors, a trainer_state.json that is not JSON.
#[test]
fn damaged_checkpoints_are_refused_by_name_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = sft_config(tmp.path(), 4, 2, "");
    let base = tmp.path().join("base");
    assert!(train(&cfg, &base, false).status.success());
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 3] = [
        ("model.safetensors", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() / 2]).unwrap()
        }),
        ("optimizer.safetensors", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() - 7]).unwrap()
        }),
        ("trainer_state.json", |p| std::fs::write(p, b"{\"step\": ").unwrap()),
    ];
    for (file, damage) in cases {
        let run = tmp.path().join(format!("run-{file}"));
        let status = Command::new("cp").args(["-r", base.to_str().unwrap(), run.to_str().unwrap()]).status().unwrap();
        assert!(status.success());
        // The newest checkpoint (step 4) is damaged.
        let target = run.join("checkpoints/step-4").join(file);
        assert!(target.exists(), "{} missing", target.display());
        damage(&target);
        let out = train(&cfg, &run, true);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{file}: {e}");
        assert!(e.contains(file) && e.contains("step-4"), "{file}: error should name the damaged file: {e}");
    }
}
