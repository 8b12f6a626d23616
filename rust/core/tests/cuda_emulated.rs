//! The CUDA kernels (`src/backend/cuda/kernels.cu`) run on the CPU: compiled as C++ against
//! `tests/cuda_emu/cuda_emu.h` (blocks one after another, threads as std::threads, warp
//! collectives through barriers) and driven by `tests/cuda_emu/emu_main.cpp` as the backend drives
//! them for one chunk, then compared with the CPU backend: labels, the exact distances to the bit,
//! a stable sort by label, the per-cluster sums. No GPU anywhere; what this cannot check is the
//! Rust host code of `pass.rs` and cuBLAS (the scores here are a float32 loop), which only
//! `pytest -m cuda` on a GPU covers. Skipped, saying so, where no C++20 compiler is installed; a
//! compiler that fails on the kernels fails the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use fastkmeans_core::kernels::metrics::within_sums;
use fastkmeans_core::kernels::silhouette::value_from_sums;
use fastkmeans_core::{dispersion, Backend, Cpu, Points};

/// The emulator, compiled once per test run (None when no compiler is there).
fn emulator() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda_emu/emu_main.cpp");
            let exe = std::env::temp_dir().join(format!("fastkmeans_cuda_emu_{}", std::process::id()));
            let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
            let status = Command::new(&cxx)
                .args(["-std=c++20", "-O1", "-ffp-contract=off", "-pthread", "-w", "-o"])
                .arg(&exe)
                .arg(&src)
                .status();
            match status {
                Ok(s) if s.success() => Some(exe),
                // A compiler that fails on the kernels is a failure, not a skip.
                Ok(s) => panic!("the emulator does not build ({cxx}: {s})"),
                Err(e) => {
                    assert!(std::env::var_os("FASTKMEANS_REQUIRE_CUDA_EMU").is_none(), "cannot build: {e}");
                    eprintln!("SKIPPED: no C++20 compiler ({cxx}: {e})");
                    None
                }
            }
        })
        .as_deref()
}

struct Emulated {
    labels: Vec<u32>,
    dist2: Vec<f64>,
    order: Vec<u32>,
    deltas: Vec<f64>,
    weights: Vec<f64>,
    members: Vec<u64>,
    /// transform's distances (n × k, float32).
    distances: Vec<f32>,
}

/// Runs the emulator in `mode` ("" for the default) on rows, centres and weights in the default
/// mode's layout, with `arg` last (the default mode's margin, the fused mode's groups); returns
/// its output.
fn emulate(
    mode: &str,
    x: &[f32],
    d: usize,
    centers: &[f32],
    weights: Option<&[f64]>,
    arg: Option<String>,
) -> Option<Vec<u8>> {
    let exe = emulator()?;
    let (n, k) = (x.len() / d, centers.len() / d);
    let dir = std::env::temp_dir();
    let tag = format!("{mode}_{}_{}_{}_{}", std::process::id(), n, k, d);
    let (inp, out) = (dir.join(format!("emu_in_{tag}")), dir.join(format!("emu_out_{tag}")));
    let mut bytes = Vec::new();
    for v in [n as i64, d as i64, k as i64, weights.is_some() as i64] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    x.iter().chain(centers).for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    weights.unwrap_or(&[]).iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(&inp, bytes).unwrap();
    let mut cmd = Command::new(exe);
    if !mode.is_empty() {
        cmd.arg(mode);
    }
    cmd.arg(&inp).arg(&out);
    if let Some(arg) = arg {
        cmd.arg(arg);
    }
    assert!(cmd.status().unwrap().success(), "the emulated kernels failed");
    let raw = std::fs::read(&out).unwrap();
    let _ = (std::fs::remove_file(&inp), std::fs::remove_file(&out));
    Some(raw)
}

fn run(x: &[f32], d: usize, centers: &[f32], weights: Option<&[f64]>, margin: Option<f64>) -> Option<Emulated> {
    let (n, k) = (x.len() / d, centers.len() / d);
    let raw = emulate("", x, d, centers, weights, margin.map(|m| format!("{m:e}")))?;
    let mut at = 0;
    let mut take = |count: usize, size: usize| {
        let part = raw[at..at + count * size].to_vec();
        at += count * size;
        part
    };
    let u32s = |b: Vec<u8>| b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    let f64s = |b: Vec<u8>| b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    let u64s = |b: Vec<u8>| b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    Some(Emulated {
        labels: u32s(take(n, 4)),
        dist2: f64s(take(n, 8)),
        order: u32s(take(n, 4)),
        deltas: f64s(take(k * d, 8)),
        weights: f64s(take(k, 8)),
        members: u64s(take(k, 8)),
        distances: take(n * k, 4).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
    })
}

/// Well-separated blobs (no near-ties between the true centres) and the true centres.
fn blobs(n: usize, d: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let centers: Vec<f32> = (0..k * d).map(|_| (unit() * 12.0) as f32).collect();
    let x = (0..n)
        .flat_map(|i| {
            let c = (i * 7 + i / 3) % k;
            centers[c * d..(c + 1) * d].to_vec()
        })
        .map(|v| v + (unit() * 0.5) as f32)
        .collect();
    (x, centers)
}

fn check_against_cpu(x: &[f32], d: usize, centers: &[f32], weights: Option<&[f64]>, margin: Option<f64>) {
    let Some(gpu) = run(x, d, centers, weights, margin) else { return };
    let (points, cpoints) = (Points::from_rows(x, d).unwrap(), Points::from_rows(centers, d).unwrap());
    let n = x.len() / d;
    let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
    let sums = Cpu.assign_and_sum(points.into(), weights, cpoints, &mut labels, &mut dist2).unwrap();
    assert_eq!(gpu.labels, labels, "labels");
    assert!(gpu.dist2.iter().zip(&dist2).all(|(a, b)| a.to_bits() == b.to_bits()), "dist2 bits");
    // A stable sort by label: labels non-decreasing along the order, rows increasing within one.
    let mut seen = vec![false; n];
    for pair in gpu.order.windows(2) {
        let (a, b) = (pair[0] as usize, pair[1] as usize);
        assert!(labels[a] < labels[b] || (labels[a] == labels[b] && a < b), "not a stable sort at {a}, {b}");
    }
    gpu.order.iter().for_each(|&i| seen[i as usize] = true);
    assert!(seen.iter().all(|&s| s), "the order is not a permutation");
    assert_eq!(gpu.members, sums.members, "members");
    for (a, b) in gpu.weights.iter().zip(&sums.weights).chain(gpu.deltas.iter().zip(&sums.deltas)) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "sums: {a} vs {b}");
    }
}

#[test]
fn kernels_match_the_cpu_unweighted_with_a_feature_tail() {
    // d = 61: seven whole groups of eight per lane (long enough for the order of the f64 adds to
    // show in the last bit) and a tail of five.
    let (x, centers) = blobs(1100, 61, 37, 1);
    check_against_cpu(&x, 61, &centers, None, None);
}

#[test]
fn kernels_match_the_cpu_weighted_with_a_two_level_scan() {
    // 400 clusters x 3 sort blocks = 1200 counts: the prefix sum recurses once.
    let (x, centers) = blobs(2100, 16, 400, 2);
    let weights: Vec<f64> = (0..2100).map(|i| if i % 9 == 0 { 0.0 } else { 0.25 + (i % 5) as f64 }).collect();
    check_against_cpu(&x, 16, &centers, Some(&weights), None);
}

#[test]
fn a_wide_margin_rechecks_many_centres_and_changes_nothing() {
    // As in TF32 mode, but wider: every centre within a large band is re-checked exactly.
    let (x, centers) = blobs(600, 8, 20, 3);
    check_against_cpu(&x, 8, &centers, None, Some(0.05));
}

#[test]
fn exact_ties_go_to_the_lowest_index() {
    let (x, mut centers) = blobs(300, 9, 6, 4);
    let dup = centers[2 * 9..3 * 9].to_vec();
    centers.extend_from_slice(&dup); // centre 6 = centre 2
    centers[..9].copy_from_slice(&dup); // and centre 0 = centre 2: rows of blob 2 go to 0
    let Some(gpu) = run(&x, 9, &centers, None, None) else { return };
    assert!(gpu.labels.iter().all(|&l| l != 2 && l != 6), "a tie did not go to the lowest index");
}

#[test]
fn exact_distances_have_the_cpus_bits_where_f64_rounds() {
    // One centre (no choice to make) and values of every magnitude, so that the differences carry
    // long mantissas and the f64 sums round: only the CPU's order of adds gives its bits.
    let d = 64;
    let (noise, _) = blobs(200, d, 1, 5);
    let x: Vec<f32> = noise.iter().enumerate().map(|(i, v)| v * 10f32.powi((i % 7) as i32 - 2)).collect();
    let centers: Vec<f32> = (0..d).map(|p| (p as f32 * 0.37).sin() * 1e-3).collect();
    check_against_cpu(&x, d, &centers, None, None);
}

/// The fused assignment (`assign_fused`): labels and distances to the bit against the CPU
/// backend's, with every centre in one group and, past 128 centres, split into groups of one
/// block of 128 (merged by `assign_merge`, as for a mini-batch). Returns the labels.
fn check_fused(x: &[f32], d: usize, centers: &[f32]) -> Option<Vec<u32>> {
    let (n, k) = (x.len() / d, centers.len() / d);
    let (points, cpoints) = (Points::from_rows(x, d).unwrap(), Points::from_rows(centers, d).unwrap());
    let (mut cpu_labels, mut cpu_dist2) = (vec![0u32; n], vec![0f64; n]);
    Cpu.assign_and_sum(points.into(), None, cpoints, &mut cpu_labels, &mut cpu_dist2).unwrap();
    // One group; one block of 128 per group; two requested (groups of several blocks, the
    // last short, past 256 centres).
    for groups in if k > 128 { vec![1, k.div_ceil(128), 2] } else { vec![1] } {
        let raw = emulate("fused", x, d, centers, None, Some(groups.to_string()))?;
        let labels: Vec<u32> =
            raw[..4 * n].chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        let dist2: Vec<f64> =
            raw[4 * n..12 * n].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(labels, cpu_labels, "labels ({groups} groups)");
        assert!(dist2.iter().zip(&cpu_dist2).all(|(a, b)| a.to_bits() == b.to_bits()), "dist2 bits ({groups} groups)");
    }
    Some(cpu_labels)
}

#[test]
fn the_fused_assignment_matches_the_cpu_over_partial_blocks_with_a_feature_tail() {
    // 1,000 rows (the last of 8 row blocks partial), 300 centres (three centre blocks, the last
    // partial), d = 37 (not a multiple of 4: element loads, and a partial feature slice).
    let (x, centers) = blobs(1000, 37, 300, 11);
    check_fused(&x, 37, &centers);
}

#[test]
fn the_fused_assignment_matches_the_cpu_with_vector_loads_far_from_the_origin() {
    // d = 32: four-float loads; rows far from the origin make the scores cancel.
    let (x, mut centers) = blobs(300, 32, 130, 12);
    centers.iter_mut().for_each(|v| *v += 30.0);
    let x: Vec<f32> = x.iter().map(|v| v + 30.0).collect();
    check_fused(&x, 32, &centers);
}

#[test]
fn the_fused_assignment_matches_the_cpus_narrow_rows() {
    // d = 3: the CPU's kernel for rows of at most eight features (one row per lane).
    let (x, centers) = blobs(500, 3, 200, 13);
    check_fused(&x, 3, &centers);
}

#[test]
fn fused_exact_ties_go_to_the_lowest_index() {
    // Ties within one thread's centres (0 = 2, both the first thread's) and across threads
    // (9 = 17: the second and third thread's, neither of them the lane that writes the label).
    let (x, mut centers) = blobs(300, 9, 20, 14);
    let (c2, c9) = (centers[2 * 9..3 * 9].to_vec(), centers[9 * 9..10 * 9].to_vec());
    centers[..9].copy_from_slice(&c2);
    centers[17 * 9..18 * 9].copy_from_slice(&c9);
    let Some(labels) = check_fused(&x, 9, &centers) else { return };
    assert!(labels.contains(&0) && labels.contains(&9) && !labels.contains(&2) && !labels.contains(&17));
}

/// Centre `twin` is centre 0 moved by a float32 step or two in each feature: blob 0's rows are a
/// hair closer to one or the other, at or below the scores' rounding. The CPU takes the smaller
/// float32 score, the lower index where they round to the same value (not always the nearer
/// centre in exact arithmetic); so must the kernel. Returns the labels and how many rows went to
/// the twin that is farther in exact arithmetic.
fn near_tie(n: usize, k: usize, twin: usize) -> Option<(Vec<u32>, usize)> {
    let d = 10;
    let (x, mut centers) = blobs(n, d, k, 16);
    for p in 0..d {
        centers[twin * d + p] = f32::from_bits(centers[p].to_bits() + 1 + (p as u32 % 2));
    }
    let labels = check_fused(&x, d, &centers)?;
    let exact = |i: usize, c: u32| -> f64 {
        (0..d).map(|p| (f64::from(x[i * d + p]) - f64::from(centers[c as usize * d + p])).powi(2)).sum()
    };
    let twins = [0, twin as u32];
    let farther = (0..n)
        .filter(|&i| twins.contains(&labels[i]))
        .filter(|&i| exact(i, twins[0] + twins[1] - labels[i]) < exact(i, labels[i]))
        .count();
    assert!(labels.contains(&0) && labels.contains(&(twin as u32)), "no row on either side of the near-tie");
    assert!(farther > 0, "every row went to its exactly nearer twin: the test shows nothing");
    Some((labels, farther))
}

#[test]
fn fused_near_ties_across_threads_follow_the_cpus_float32_scores() {
    near_tie(480, 12, 8); // centre 8: the second thread's first column, merged across threads
}

#[test]
fn fused_near_ties_within_a_thread_follow_the_cpus_float32_scores() {
    near_tie(480, 12, 5); // centre 5: the first thread's, kept in its running best
}

#[test]
fn fused_near_ties_across_centre_blocks_and_groups_follow_the_cpus_float32_scores() {
    // Centre 200: the second block of 128 centres (and the second group when they are split).
    near_tie(3000, 210, 200);
}

#[test]
fn fused_exact_ties_across_centre_blocks_go_to_the_lowest_index() {
    let d = 6;
    let (x, mut centers) = blobs(1200, d, 260, 17);
    let c3 = centers[3 * d..4 * d].to_vec();
    centers[250 * d..251 * d].copy_from_slice(&c3); // centre 250 (the third block) = centre 3
    let Some(labels) = check_fused(&x, d, &centers) else { return };
    assert!(labels.contains(&3) && !labels.contains(&250));
}

#[test]
fn fused_groups_of_several_centre_blocks() {
    // 600 centres in 5 blocks, 2 groups asked: groups of 256 centres, the third of 88.
    let (x, centers) = blobs(700, 7, 600, 20);
    check_fused(&x, 7, &centers);
}

#[test]
fn fused_four_float_loads_with_a_partial_feature_slice() {
    // d = 12: a multiple of 4 (four-float loads) but not of 8 (the last slice half zeros).
    let (x, centers) = blobs(400, 12, 50, 18);
    check_fused(&x, 12, &centers);
}

#[test]
fn fused_scores_past_half_the_float32_range_are_the_cpus() {
    // x·c above f32::MAX / 2: 2·(x·c) alone would overflow to infinity, the CPU's fused
    // multiply-add (and the kernel's) does not. Row 0 sits on centre 1.
    let x = vec![1.2e19f32, 1.7e19, 1.0e19];
    let centers = vec![1.7e19f32, 1.2e19];
    let Some(labels) = check_fused(&x, 1, &centers) else { return };
    assert_eq!(labels[0], 1);
}

#[test]
fn the_fused_assignment_with_one_centre() {
    let (x, centers) = blobs(200, 5, 1, 15);
    check_fused(&x, 5, &centers);
}

/// transform's `distance_tile` against the CPU backend's exact distances: within the GEMM's
/// rounding bound everywhere, and the exact distance rounded once to float32 (the CPU's bits)
/// wherever the expansion was within 1024 times that bound (at least `min_rechecked` distances:
/// for blobs far from the origin, every row's own centre and the rows that are centres).
fn check_distances(x: &[f32], d: usize, centers: &[f32], min_rechecked: usize) {
    let Some(gpu) = run(x, d, centers, None, None) else { return };
    let (points, cpoints) = (Points::from_rows(x, d).unwrap(), Points::from_rows(centers, d).unwrap());
    let (n, k) = (x.len() / d, centers.len() / d);
    let mut exact = vec![0f32; n * k];
    Cpu.distances(points.into(), cpoints, &mut exact).unwrap();
    let margin = 4.0 * (d as f64 + 2.0) * f64::powi(2.0, -24);
    let norm = |row: &[f32]| row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
    let mut rechecked = 0;
    for i in 0..n {
        let xn = norm(&x[i * d..(i + 1) * d]);
        for j in 0..k {
            let cn = norm(&centers[j * d..(j + 1) * d]);
            let (g, e) = (f64::from(gpu.distances[i * k + j]), f64::from(exact[i * k + j]));
            let bound = margin * xn * cn;
            // Squared: within the bound (plus float32's rounding of the two results).
            let slack = 4.0 * f64::from(f32::EPSILON) * (e * e + bound);
            assert!((g * g - e * e).abs() <= bound + slack, "({i}, {j}): {g} vs exact {e}, bound {bound}");
            if e * e < 1000.0 * bound {
                // Certainly re-checked (the expansion is below 1024·bound): the exact bits.
                assert_eq!(
                    gpu.distances[i * k + j].to_bits(),
                    exact[i * k + j].to_bits(),
                    "({i}, {j}): {g} vs exact {e}"
                );
                rechecked += 1;
            }
        }
    }
    assert!(rechecked >= min_rechecked, "{rechecked} re-checked of {}", n * k);
}

#[test]
fn transform_distances_are_exact_near_the_centres_and_within_the_bound_elsewhere() {
    // Blobs far from the origin (||x||·||c|| much larger than a row's distance to its centre):
    // the expansion cancels there, and the re-check must give the exact distance.
    let (x, mut centers) = blobs(700, 24, 9, 6);
    centers.iter_mut().for_each(|v| *v += 40.0);
    let x: Vec<f32> = x.iter().map(|v| v + 40.0).collect();
    // Two rows as centres: their own distance is exactly 0.
    centers.extend_from_slice(&x[..2 * 24]);
    check_distances(&x, 24, &centers, 700);
}

#[test]
fn transform_with_a_feature_tail_and_one_centre() {
    let (x, centers) = blobs(300, 13, 1, 7);
    check_distances(&x, 13, &centers, 0);
}

/// What the k-means++ kernels left: each block's potential after the first centre and after
/// each step, each scored step's gains, then every row's final d2.
struct Seeded {
    sums: Vec<Vec<f64>>,
    gains: Vec<Vec<f64>>,
    d2: Vec<f64>,
}

/// The k-means++ kernels run through `steps` (candidates, the one to add) from row `first`, as
/// `seeding.rs` drives them.
fn run_seeding(
    x: &[f32],
    d: usize,
    weights: Option<&[f64]>,
    first: usize,
    steps: &[(Vec<usize>, usize)],
) -> Option<Seeded> {
    let exe = emulator()?;
    let n = x.len() / d;
    let dir = std::env::temp_dir();
    let tag = format!("seed_{}_{}_{}_{}", std::process::id(), n, d, steps.len());
    let (inp, out) = (dir.join(format!("emu_in_{tag}")), dir.join(format!("emu_out_{tag}")));
    let mut bytes = Vec::new();
    for v in [n, d, weights.is_some() as usize, first, steps.len()] {
        bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
    x.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    weights.unwrap_or(&[]).iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    for (candidates, pick) in steps {
        for v in [candidates.len(), *pick].iter().chain(candidates) {
            bytes.extend_from_slice(&(*v as i64).to_le_bytes());
        }
    }
    std::fs::write(&inp, bytes).unwrap();
    assert!(
        Command::new(exe).arg("seed").arg(&inp).arg(&out).status().unwrap().success(),
        "the emulated kernels failed"
    );
    let raw = std::fs::read(&out).unwrap();
    let _ = (std::fs::remove_file(&inp), std::fs::remove_file(&out));
    let mut values = raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()));
    let mut take = |count: usize| values.by_ref().take(count).collect::<Vec<_>>();
    let blocks = n.div_ceil(128);
    let (mut sums, mut gains) = (vec![take(blocks)], Vec::new());
    for (candidates, _) in steps {
        if candidates.len() > 1 {
            gains.push(take(candidates.len()));
        }
        sums.push(take(blocks));
    }
    Some(Seeded { sums, gains, d2: take(n) })
}

fn check_seeding(x: &[f32], d: usize, weights: Option<&[f64]>) {
    let n = x.len() / d;
    // Steps of one to five candidates (one: advanced, unscored), repeats and chosen rows included.
    let steps: Vec<(Vec<usize>, usize)> = (0..40)
        .map(|s| {
            let count = 1 + s % 5;
            ((0..count).map(|t| (s * 131 + t * 977 + 11) % n).collect(), (s * 7) % count)
        })
        .collect();
    let Some(Seeded { sums, gains, d2 }) = run_seeding(x, d, weights, 3, &steps) else { return };
    let points = Points::from_rows(x, d).unwrap();
    let (done, cpu_d2) = fastkmeans_core::algo::kmeanspp::script(points, weights, 3, &steps);
    let bits = |v: &[f64]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
    let cpu_gains = done.iter().filter(|s| !s.gains.is_empty()).map(|s| bits(&s.gains));
    assert!(gains.iter().map(|g| bits(g)).eq(cpu_gains), "gains");
    for (step, (device, cpu)) in sums.iter().zip(&done).enumerate() {
        assert_eq!(bits(device), bits(&cpu.block_sums), "block potentials after step {step}");
    }
    assert_eq!(bits(&d2), bits(&cpu_d2), "d2");
}

#[test]
fn seeding_kernels_leave_the_cpus_bits_with_a_feature_tail_and_a_short_block() {
    // d = 29: three whole eights per lane and a float32 tail of five; 3 blocks and 41 rows.
    let (x, _) = blobs(3 * 128 + 41, 29, 9, 8);
    // Each lane's features of its own magnitude: lanes 4-7 2^18 times lanes 0-3, so that the
    // fold's first adds (lane l with lane l + 4) round, and only the CPU's order gives its bits.
    let scale = |p: usize| 2f32.powi(18 * (p % 8 / 4) as i32 + 2 * (p % 4) as i32);
    let x: Vec<f32> = x.iter().enumerate().map(|(i, v)| v * scale(i % 29)).collect();
    check_seeding(&x, 29, None);
}

#[test]
fn seeding_kernels_leave_the_cpus_bits_unweighted_in_whole_blocks_of_whole_eights() {
    // n a multiple of 128 (no short block) and d a multiple of 8 (no float32 tail).
    let (x, _) = blobs(2 * 128, 16, 7, 23);
    check_seeding(&x, 16, None);
}

#[test]
fn seeding_kernels_leave_the_cpus_bits_weighted_and_narrow() {
    for d in [3, 16] {
        let n = 2 * 128 + 7;
        let (x, _) = blobs(n, d, 6, 9 + d as u64);
        let weights: Vec<f64> = (0..n).map(|i| if i % 7 == 0 { 0.0 } else { 0.3 + (i % 4) as f64 * 1.7 }).collect();
        check_seeding(&x, d, Some(&weights));
    }
}

/// `silhouette_tile` over tiles of `tile_rows` rows and `tile_cols` columns, as `silhouette.rs`
/// drives it (the DGEMM a plain f64 loop), then each row's silhouette from its sums, against the
/// CPU's exact silhouette.
fn check_silhouette(x: &[f32], d: usize, labels: &[u32], k: usize, tile_rows: usize, tile_cols: usize) {
    let Some(exe) = emulator() else { return };
    let n = x.len() / d;
    // As the host prepares them: rows in label order (stable), centred on the mean, in f64.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| labels[i]);
    let mut mean = vec![0f64; d];
    x.chunks_exact(d).for_each(|row| mean.iter_mut().zip(row).for_each(|(m, &v)| *m += f64::from(v)));
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut counts = vec![0usize; k];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    let mut offsets = vec![0i64; k + 1];
    (0..k).for_each(|c| offsets[c + 1] = offsets[c] + counts[c] as i64);
    let mut bytes = Vec::new();
    for v in [n, d, k, tile_rows, tile_cols] {
        bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
    for &i in &order {
        for (p, m) in mean.iter().enumerate() {
            bytes.extend_from_slice(&(f64::from(x[i * d + p]) - m).to_le_bytes());
        }
    }
    offsets.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    let dir = std::env::temp_dir();
    let tag = format!("sil_{}_{}_{}_{}", std::process::id(), n, d, tile_rows);
    let (inp, out) = (dir.join(format!("emu_in_{tag}")), dir.join(format!("emu_out_{tag}")));
    std::fs::write(&inp, bytes).unwrap();
    assert!(Command::new(exe).arg("silhouette").arg(&inp).arg(&out).status().unwrap().success());
    let raw = std::fs::read(&out).unwrap();
    let _ = (std::fs::remove_file(&inp), std::fs::remove_file(&out));
    let sums: Vec<f64> = raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    let mut device = vec![0f64; n];
    for (p, &i) in order.iter().enumerate() {
        device[i] = value_from_sums(labels[i] as usize, &sums[p * k..(p + 1) * k], &counts);
    }
    let points = Points::from_rows(x, d).unwrap();
    let cpu = fastkmeans_core::silhouette_samples(points, labels, k, None, &AtomicBool::new(false)).unwrap();
    for (i, (a, b)) in device.iter().zip(&cpu).enumerate() {
        assert!((a - b).abs() <= 1e-12, "row {i}: {a} vs the CPU's {b}");
    }
}

#[test]
fn the_silhouette_kernel_gives_the_cpus_values_across_tiles() {
    let (n, d, k) = (301, 7, 6);
    let (x, _) = blobs(n, d, 5, 21);
    // Labels from the blobs (row i is in blob (7i + i/3) mod 5), with a cluster of one row and an
    // empty cluster: runs of one cluster cross tiles of 40 rows and 64 columns.
    let mut labels: Vec<u32> = (0..n).map(|i| ((i * 7 + i / 3) % 5) as u32).collect();
    labels[17] = 5;
    labels.iter_mut().filter(|l| **l == 3).for_each(|l| *l = 4); // cluster 3 empty
    check_silhouette(&x, d, &labels, k, 40, 64);
}

#[test]
fn the_silhouette_kernel_with_one_tile_and_wide_rows() {
    let (x, _) = blobs(150, 40, 3, 22);
    let labels: Vec<u32> = (0..150).map(|i| ((i * 7 + i / 3) % 3) as u32).collect();
    check_silhouette(&x, 40, &labels, 3, 4096, 8192);
}

/// `dispersion_rows` with the CPU's means, then the host's sums (`within_sums`): the CPU's
/// within-cluster statistics to the bit.
fn check_dispersion(x: &[f32], d: usize, labels: &[u32], k: usize) {
    let Some(exe) = emulator() else { return };
    let n = x.len() / d;
    let cpu = dispersion(Points::from_rows(x, d).unwrap(), labels, k).unwrap();
    let mut bytes = Vec::new();
    for v in [n, d, k] {
        bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
    x.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    labels.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    cpu.means.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    let dir = std::env::temp_dir();
    let tag = format!("disp_{}_{}_{}", std::process::id(), n, d);
    let (inp, out) = (dir.join(format!("emu_in_{tag}")), dir.join(format!("emu_out_{tag}")));
    std::fs::write(&inp, bytes).unwrap();
    assert!(Command::new(exe).arg("dispersion").arg(&inp).arg(&out).status().unwrap().success());
    let raw = std::fs::read(&out).unwrap();
    let _ = (std::fs::remove_file(&inp), std::fs::remove_file(&out));
    let e: Vec<f64> = raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    let (counts, ssd, distance) = within_sums(labels, k, &e);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(counts, cpu.counts);
    assert_eq!(bits(&ssd), bits(&cpu.within_ssd), "within_ssd");
    assert_eq!(bits(&distance), bits(&cpu.within_distance), "within_distance");
}

#[test]
fn the_dispersion_rows_give_the_cpus_within_cluster_sums() {
    // Rows far from the origin with values of every magnitude: the f64 sums round, and only the
    // CPU's order of adds gives its bits. Cluster 5 is empty.
    let d = 23;
    let (noise, _) = blobs(700, d, 1, 19);
    let x: Vec<f32> = noise.iter().enumerate().map(|(i, v)| 40.0 + v * 10f32.powi((i % 5) as i32 - 2)).collect();
    let labels: Vec<u32> = (0..700).map(|i| ((i * 7 + i / 5) % 5) as u32).collect();
    check_dispersion(&x, d, &labels, 6);
}
