// Runs backend/cuda/kernels.cu on the CPU (cuda_emu.h), driven as backend/cuda/pass.rs drives it
// on a GPU for one chunk: scores (here a plain float32 loop in place of cuBLAS), assign_tile,
// then the sums (histogram, scan, starts, scatter, segment sums, totals), and transform's
// distance_tile over the same scores. With `seed` first, runs the k-means++ kernels through a
// script of steps, as backend/cuda/seeding.rs drives them; with `silhouette`, silhouette_tile over
// tiles of rows and columns, as backend/cuda/silhouette.rs drives it (the DGEMM a plain f64 loop).
// With `fused`, assign_fused (the float32 passes' labels and distances), its centres split into
// `groups` and merged by assign_merge when more than one; with `dispersion`, dispersion_rows.
// Usage: emu_main IN OUT [margin_per_norm] | emu_main fused IN OUT [groups] | emu_main seed IN OUT |
// emu_main silhouette IN OUT | emu_main dispersion IN OUT;
// see tests/cuda_emulated.rs for the file layouts.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cuda_emu.h"
#include "../../src/backend/cuda/kernels.cu"

template <class T> std::vector<T> read(FILE* f, size_t n) {
    std::vector<T> v(n);
    if (n && fread(v.data(), sizeof(T), n, f) != n) { fprintf(stderr, "short input\n"); exit(2); }
    return v;
}
template <class T> void write(FILE* f, const std::vector<T>& v) { fwrite(v.data(), sizeof(T), v.size(), f); }

static void exclusive_scan(unsigned* values, long long len) {
    unsigned blocks = (unsigned)((len + 1023) / 1024);
    if (blocks == 0) blocks = 1;
    std::vector<unsigned> totals(blocks);
    launch(blocks, 1024, [&] { scan_blocks(values, len, totals.data()); });
    if (blocks > 1) {
        exclusive_scan(totals.data(), blocks);
        launch(blocks, 1024, [&] { scan_add(values, len, totals.data()); });
    }
}

// k-means++: the header n, d, weighted, first, steps; the rows (float32), the weights (f64); per
// step its candidate count, the candidate to add and the candidates (i64). Writes each block's
// potential after the first centre and after every step, the gains of every scored step, then
// every row's final d2.
static int seed_main(const char* in_path, const char* out_path) {
    FILE* in = fopen(in_path, "rb");
    auto header = read<long long>(in, 5);
    long long n = header[0], d = header[1], weighted = header[2], first = header[3], steps = header[4];
    auto x = read<float>(in, n * d);
    auto weights = read<double>(in, weighted ? n : 0);
    const double* w = weighted ? weights.data() : nullptr;
    long long nblocks = (n + SEED_BLOCK - 1) / SEED_BLOCK;
    std::vector<double> d2(n), sums(nblocks);
    int di = (int)d;
    unsigned row_grid = (unsigned)((n + 255) / 256), sum_grid = (unsigned)((nblocks + 127) / 128);
    auto block_sums = [&] { launch(sum_grid, 128, [&] { seed_block_sums(d2.data(), w, n, nblocks, sums.data()); }); };
    FILE* out = fopen(out_path, "wb");
    launch(row_grid, 256, [&] { seed_first(x.data(), n, di, first, d2.data()); });
    block_sums();
    write(out, sums);
    for (long long s = 0; s < steps; ++s) {
        auto head = read<long long>(in, 2);
        long long count = head[0], pick = head[1];
        auto cands = read<long long>(in, count);
        long long added = cands[0];
        if (count > 1) {
            int trials = (int)count;
            std::vector<double> gains(nblocks * count), totals(count);
            launch((unsigned)nblocks, SEED_BLOCK, [&] {
                seed_score(x.data(), w, d2.data(), n, di, cands.data(), trials, gains.data());
            });
            launch(1, 32, [&] { seed_totals(gains.data(), nblocks, trials, totals.data()); });
            write(out, totals);
            added = cands[pick];
        }
        launch(row_grid, 256, [&] { seed_advance(x.data(), n, di, added, d2.data()); });
        block_sums();
        write(out, sums);
    }
    fclose(in);
    write(out, d2);
    fclose(out);
    return 0;
}

// The silhouette: the header n, d, k, tile_rows, tile_cols; the rows in label order, centred
// (f64); each cluster's first row (k + 1 offsets, i64). Writes every row's k sums (f64).
static int silhouette_main(const char* in_path, const char* out_path) {
    FILE* in = fopen(in_path, "rb");
    auto header = read<long long>(in, 5);
    long long n = header[0], d = header[1], k = header[2], tile_rows = header[3], tile_cols = header[4];
    auto x = read<double>(in, n * d);
    auto offsets = read<long long>(in, k + 1);
    fclose(in);
    std::vector<double> norms(n), sums(n * k, 0.0);
    for (long long i = 0; i < n; ++i)
        for (long long p = 0; p < d; ++p) norms[i] += x[i * d + p] * x[i * d + p];
    for (long long r0 = 0; r0 < n; r0 += tile_rows) {
        long long m = std::min(tile_rows, n - r0);
        std::vector<long long> pos(m);
        for (long long r = 0; r < m; ++r) pos[r] = r0 + r;
        std::vector<double> acc(m * k, 0.0);
        for (long long c0 = 0; c0 < n; c0 += tile_cols) {
            long long c1 = std::min(n, c0 + tile_cols), cols = c1 - c0;
            std::vector<double> dots(m * cols);
            for (long long r = 0; r < m; ++r)
                for (long long c = 0; c < cols; ++c) {
                    double t = 0;
                    for (long long p = 0; p < d; ++p) t += x[(r0 + r) * d + p] * x[(c0 + c) * d + p];
                    dots[r * cols + c] = t;
                }
            std::vector<int> begin, cluster;
            for (long long c = 0; c < k; ++c) {
                long long a = std::max(offsets[c], c0), b = std::min(offsets[c + 1], c1);
                if (a < b) {
                    begin.push_back((int)(a - c0));
                    cluster.push_back((int)c);
                }
            }
            int nseg = (int)cluster.size();
            begin.push_back((int)cols);
            launch((unsigned)((m * 32 + 255) / 256), 256, [&] {
                silhouette_tile(dots.data(), norms.data() + r0, norms.data() + c0, pos.data(), (int)m, (int)cols, c0,
                                begin.data(), cluster.data(), nseg, (int)k, acc.data());
            });
        }
        std::copy(acc.begin(), acc.end(), sums.begin() + r0 * k);
    }
    FILE* out = fopen(out_path, "wb");
    write(out, sums);
    fclose(out);
    return 0;
}

// The fused assignment: the header and inputs of the default mode; assign_fused over every row,
// its centres split into `groups` (then assign_merge), as backend/cuda/pass.rs splits them for
// few rows. Writes the labels and the distances.
static int fused_main(const char* in_path, const char* out_path, int groups) {
    FILE* in = fopen(in_path, "rb");
    auto header = read<long long>(in, 4);
    long long n = header[0], d = header[1], k = header[2];
    auto x = read<float>(in, n * d);
    auto centers = read<float>(in, k * d);
    fclose(in);
    std::vector<float> cnorm_f(k);
    for (long long c = 0; c < k; ++c) {
        double s = 0;
        for (long long p = 0; p < d; ++p) s += (double)centers[c * d + p] * (double)centers[c * d + p];
        cnorm_f[c] = (float)s;
    }
    // The host's split (pass.rs, fused_split): whole blocks of FUSED_BN centres per group, no
    // group empty.
    long long centre_blocks = (k + FUSED_BN - 1) / FUSED_BN;
    long long per_group = std::max(1LL, centre_blocks / groups);
    int span = (int)(per_group * FUSED_BN);
    unsigned ngroups = (unsigned)((k + span - 1) / span);
    std::vector<unsigned> labels(n, 0xffffffffu), part_idx(n * ngroups);
    std::vector<double> dist2(n, -1.0);
    std::vector<float> part_best(n * ngroups);
    int rows = (int)n, di = (int)d;
    launch((unsigned)((n + FUSED_BM - 1) / FUSED_BM), ngroups, FUSED_THREADS, [&] {
        assign_fused(x.data(), centers.data(), cnorm_f.data(), rows, (int)k, di, span, labels.data(), dist2.data(),
                     part_best.data(), part_idx.data());
    });
    if (ngroups > 1)
        launch((unsigned)((n * 32 + 255) / 256), 256, [&] {
            assign_merge(x.data(), centers.data(), part_best.data(), part_idx.data(), (int)ngroups, rows, di,
                         labels.data(), dist2.data());
        });
    FILE* out = fopen(out_path, "wb");
    write(out, labels);
    write(out, dist2);
    fclose(out);
    return 0;
}

// The dispersion's second pass: the header n, d, k; the rows (float32), the labels (u32), the
// means (f64, k × d). Writes every row's squared distance to its mean (f64).
static int dispersion_main(const char* in_path, const char* out_path) {
    FILE* in = fopen(in_path, "rb");
    auto header = read<long long>(in, 3);
    long long n = header[0], d = header[1], k = header[2];
    auto x = read<float>(in, n * d);
    auto labels = read<unsigned>(in, n);
    auto means = read<double>(in, k * d);
    fclose(in);
    std::vector<double> e(n);
    launch((unsigned)((n + 255) / 256), 256, [&] { dispersion_rows(x.data(), labels.data(), means.data(), (int)n, (int)d, e.data()); });
    FILE* out = fopen(out_path, "wb");
    write(out, e);
    fclose(out);
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "dispersion") return dispersion_main(argv[2], argv[3]);
    if (argc > 1 && std::string(argv[1]) == "fused") return fused_main(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 1);
    if (argc > 1 && std::string(argv[1]) == "seed") return seed_main(argv[2], argv[3]);
    if (argc > 1 && std::string(argv[1]) == "silhouette") return silhouette_main(argv[2], argv[3]);
    FILE* in = fopen(argv[1], "rb");
    auto header = read<long long>(in, 4);
    long long n = header[0], d = header[1], k = header[2], weighted = header[3];
    double margin = argc > 3 ? atof(argv[3]) : 4.0 * (d + 2.0) * std::pow(2.0, -24);
    auto x = read<float>(in, n * d);
    auto centers = read<float>(in, k * d);
    auto weights = read<double>(in, weighted ? n : 0);
    fclose(in);

    std::vector<double> cnorm(k);
    double max_norm = 0;
    for (long long c = 0; c < k; ++c) {
        double s = 0;
        for (long long p = 0; p < d; ++p) s += (double)centers[c * d + p] * (double)centers[c * d + p];
        cnorm[c] = s;
        max_norm = std::max(max_norm, s);
    }
    max_norm = std::sqrt(max_norm);
    std::vector<float> g(n * k);
    for (long long i = 0; i < n; ++i)
        for (long long c = 0; c < k; ++c) {
            float s = 0;
            for (long long p = 0; p < d; ++p) s += x[i * d + p] * centers[c * d + p];
            g[i * k + c] = s;
        }
    std::vector<unsigned> labels(n);
    std::vector<double> dist2(n);
    int rows = (int)n, ki = (int)k, di = (int)d;
    launch((unsigned)((n * 32 + 255) / 256), 256, [&] {
        assign_tile(g.data(), x.data(), centers.data(), cnorm.data(), rows, ki, di, max_norm, margin,
                    labels.data(), dist2.data());
    });

    int nblocks = (int)((n + 1023) / 1024);
    std::vector<unsigned> cursor(k * nblocks, 0);
    launch(nblocks, 256, [&] { block_histogram(labels.data(), rows, nblocks, 1024, cursor.data()); });
    exclusive_scan(cursor.data(), k * nblocks);
    std::vector<unsigned> starts(k + 1);
    launch((unsigned)((k + 1 + 255) / 256), 256, [&] { cluster_starts(cursor.data(), ki, nblocks, rows, starts.data()); });
    std::vector<unsigned> order(n);
    launch(nblocks, 1024, [&] { scatter_sorted(labels.data(), rows, nblocks, cursor.data(), order.data()); });
    std::vector<unsigned> seg_begin, seg_end, seg_cluster, seg_first{0};
    for (long long c = 0; c < k; ++c) {
        for (unsigned lo = starts[c]; lo < starts[c + 1]; lo += 256) {
            seg_begin.push_back(lo);
            seg_end.push_back(std::min(lo + 256, starts[c + 1]));
            seg_cluster.push_back((unsigned)c);
        }
        seg_first.push_back((unsigned)seg_begin.size());
    }
    size_t nseg = seg_begin.size();
    std::vector<double> partial(std::max<size_t>(nseg, 1) * d), partial_w(std::max<size_t>(nseg, 1));
    std::vector<unsigned long long> partial_m(std::max<size_t>(nseg, 1));
    unsigned threads = 32;
    while (threads < d && threads < 256) threads *= 2;
    if (nseg > 0)
        launch((unsigned)nseg, threads, [&] {
            segment_sums(x.data(), centers.data(), weighted ? weights.data() : nullptr, order.data(), seg_begin.data(),
                         seg_end.data(), seg_cluster.data(), di, partial.data(), partial_w.data(), partial_m.data());
        });
    std::vector<double> deltas(k * d), wsum(k);
    std::vector<unsigned long long> members(k);
    launch((unsigned)k, threads, [&] {
        cluster_totals(partial.data(), partial_w.data(), partial_m.data(), seg_first.data(), di, deltas.data(),
                       wsum.data(), members.data());
    });

    // transform: distance_tile over a copy of the scores (the margin of float32, as the backend
    // passes for transform even in TF32 mode).
    std::vector<float> dist(g);
    double transform_margin = 4.0 * (d + 2.0) * std::pow(2.0, -24);
    launch((unsigned)((n * 32 + 255) / 256), 256, [&] {
        distance_tile(dist.data(), x.data(), centers.data(), cnorm.data(), rows, ki, di, transform_margin, 1024.0);
    });

    FILE* out = fopen(argv[2], "wb");
    write(out, labels);
    write(out, dist2);
    write(out, order);
    write(out, deltas);
    write(out, wsum);
    write(out, members);
    write(out, dist);
    fclose(out);
    return 0;
}
