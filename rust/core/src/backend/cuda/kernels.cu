// fastkmeans' CUDA kernels, compiled at first use by NVRTC (backend/cuda/module.rs) with
// --fmad=false, so that no multiply-add is contracted: the exact distances below must round as
// the CPU's sq_dist_f64 does. Every reduction that feeds a result runs in a fixed order; the only
// atomics are on integers (counts), whose sums do not depend on their order.
//
// Float32 passes assign in one kernel (assign_fused, below), with the CPU's own float32 scores.
// TF32 passes (and float32's with FASTKMEANS_CUDA_ASSIGN=gemm) take scores from cuBLAS:
// G = X · Cᵀ (a tile of rows × k, row-major), and
// ||x − c||² = ||x||² + (||c||² − 2 x·c), so the nearest centre minimises s = ||c||² − 2 g.
// The GEMM's rounding (or TF32's) moves each s by at most `margin` (bounded from ||x||·max||c||),
// so every centre whose s is within 2·margin of the smallest is re-checked exactly, in f64, and
// the smallest exact distance wins, the lowest index among equals.

#define FULL_MASK 0xffffffffu

extern "C" {

// Squared distance between two float32 rows, accumulated in f64 exactly as the CPU's
// sq_dist_f64 (kernels/points.rs) does: eight lanes over the whole groups of eight features
// (lane l adds features l, l + 8, ...), folded as ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)),
// then the features past the last whole eight, added in order, added last. Called by a whole
// warp; every lane gets the result.
__device__ double exact_sq_dist(const float* a, const float* b, int d, int lane) {
    int whole = d & ~7;
    double part = 0.0;
    if (lane < 8) {
        for (int p = lane; p < whole; p += 8) {
            double t = __dsub_rn((double)a[p], (double)b[p]);
            part = __dadd_rn(part, __dmul_rn(t, t));
        }
    } else if (lane == 8) {
        for (int p = whole; p < d; ++p) {
            double t = __dsub_rn((double)a[p], (double)b[p]);
            part = __dadd_rn(part, __dmul_rn(t, t));
        }
    }
    double l0 = __shfl_sync(FULL_MASK, part, 0), l1 = __shfl_sync(FULL_MASK, part, 1);
    double l2 = __shfl_sync(FULL_MASK, part, 2), l3 = __shfl_sync(FULL_MASK, part, 3);
    double l4 = __shfl_sync(FULL_MASK, part, 4), l5 = __shfl_sync(FULL_MASK, part, 5);
    double l6 = __shfl_sync(FULL_MASK, part, 6), l7 = __shfl_sync(FULL_MASK, part, 7);
    double tail = __shfl_sync(FULL_MASK, part, 8);
    double folded = __dadd_rn(__dadd_rn(__dadd_rn(l0, l4), __dadd_rn(l1, l5)),
                              __dadd_rn(__dadd_rn(l2, l6), __dadd_rn(l3, l7)));
    return __dadd_rn(folded, tail);
}

// The score of centre j for a row: ||c_j||² − 2 g (in f64; g is the GEMM's dot product).
__device__ double score(const double* cnorm, const float* g, int j) {
    return __dsub_rn(cnorm[j], __dmul_rn(2.0, (double)g[j]));
}

// One warp per row of the tile: the nearest centre (labels) and the exact distance to it (dist2).
// g: rows × k scores from the GEMM; x: the same rows (rows × d); centers: k × d; cnorm: ||c||² in
// f64; margin_per_norm: the bound on the GEMM's error in s per unit of ||x||·max||c||.
__global__ void assign_tile(const float* g, const float* x, const float* centers,
                            const double* cnorm, int rows, int k, int d,
                            double max_center_norm, double margin_per_norm,
                            unsigned* labels, double* dist2) {
    long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= rows) return;  // whole warps leave together: blockDim is a multiple of 32
    const float* grow = g + warp * (long long)k;
    const float* xrow = x + warp * (long long)d;

    double best = 1.0 / 0.0;
    for (int j = lane; j < k; j += 32) {
        double s = score(cnorm, grow, j);
        if (s < best) best = s;
    }
    double xnorm2 = 0.0;
    for (int p = lane; p < d; p += 32) {
        double v = (double)xrow[p];
        xnorm2 = __dadd_rn(xnorm2, __dmul_rn(v, v));
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        best = fmin(best, __shfl_xor_sync(FULL_MASK, best, offset));
        xnorm2 = __dadd_rn(xnorm2, __shfl_xor_sync(FULL_MASK, xnorm2, offset));
    }
    // Every lane holds the same best; xnorm2 only sizes the margin, so its order does not matter
    // (the xor butterfly gives every lane the same bits anyway).
    double limit = best + 2.0 * margin_per_norm * sqrt(xnorm2) * max_center_norm;

    double best_exact = 1.0 / 0.0;
    unsigned best_label = 0;
    for (int base = 0; base < k; base += 32) {
        int j = base + lane;
        bool candidate = j < k && score(cnorm, grow, j) <= limit;
        unsigned mask = __ballot_sync(FULL_MASK, candidate);
        while (mask) {
            int c = base + __ffs(mask) - 1;
            mask &= mask - 1;
            double e = exact_sq_dist(xrow, centers + (long long)c * d, d, lane);
            if (e < best_exact) {  // candidates come in index order: equals keep the lowest
                best_exact = e;
                best_label = (unsigned)c;
            }
        }
    }
    if (lane == 0) {
        labels[warp] = best_label;
        dist2[warp] = best_exact;
    }
}

// The fused assignment (float32 mode): the dot products and the argmin in one kernel, so that no
// score tile goes through memory, with the CPU's own float32 scores. The CPU's assignment
// microkernels (kernels/avx2: x86-64 with AVX2 and FMA) score centre j for row x as
// s = fma(x·c_j, −2, fl(||c_j||²)) in float32, the dot product a chain of fused multiply-adds in
// feature order from 0, and take the smallest s, the lowest index among equals (NaN never wins).
// Here every dot product is the same chain (explicit __fmaf_rn, in feature order; --fmad=false
// contracts nothing else, and the zero padding past d adds +0), s the same fused multiply-add,
// and the argmin the same order, so the labels are the CPU's bits, near-ties included; dist2 is
// exact_sq_dist's, the CPU's.
// A block of FUSED_THREADS threads takes FUSED_BM rows and runs over its centres, FUSED_BN at a
// time: each thread holds an 8 × 8 tile of dot products in registers, the feature slices of
// FUSED_BK going through shared memory, the next slice's loads issued before the current one's
// arithmetic; its running best per row sees its centres in increasing order. The 16 threads of a
// row then merge their bests by (score, index), and a warp per row computes the exact distance.
// Too few rows to fill the GPU (a mini-batch): the centres are split into gridDim.y groups of
// `span`, each block writes its rows' best (score, index) among its group's centres, and
// assign_merge merges the groups by (score, index), an order-free choice, so the labels are the
// same bits however the centres were split.
#define FUSED_BM 128
#define FUSED_BN 128
#define FUSED_BK 8
#define FUSED_THREADS 256

// A slice of one row for the shared tiles: the 4 features from p of row `row` (of `nrows`,
// `d` wide), zeros past the rows or features. Four at once when d is a multiple of 4 (every row
// then starts 16-byte aligned, and p is a multiple of 4).
__device__ void load_slice(const float* rows, long long row, long long nrows, int d, int p, bool vec,
                           float* out) {
    if (row >= nrows) {
        out[0] = out[1] = out[2] = out[3] = 0.0f;
    } else if (vec && p < d) {
        float4 v = *reinterpret_cast<const float4*>(rows + row * d + p);
        out[0] = v.x;
        out[1] = v.y;
        out[2] = v.z;
        out[3] = v.w;
    } else {
        const float* r = rows + row * d;
        for (int q = 0; q < 4; ++q) out[q] = p + q < d ? r[p + q] : 0.0f;
    }
}

// x: rows × d; centers: k × d; cnorm_f: ||c||², summed in f64 in feature order and rounded once
// to float32 (the CPU's squared_norms). Writes every row's label and exact squared distance.
// With gridDim.y > 1, block (b, g) takes centres g·span .. (g + 1)·span (span a multiple of
// FUSED_BN) and writes part_best / part_idx[g · rows + row] instead of labels and dist2.
__global__ void __launch_bounds__(FUSED_THREADS, 2) assign_fused(
        const float* x, const float* centers, const float* cnorm_f, int rows, int k, int d, int span,
        unsigned* labels, double* dist2, float* part_best, unsigned* part_idx) {
    __shared__ __align__(16) float as[FUSED_BK][FUSED_BM + 4];
    __shared__ __align__(16) float bs[FUSED_BK][FUSED_BN + 4];
    __shared__ int row_label[FUSED_BM];
    // Each thread's running best score and its centre for each of its 8 rows, between centre
    // blocks (the registers hold the 8 × 8 tile): [i][thread], no bank conflicts.
    __shared__ float top_best[8][FUSED_THREADS];
    __shared__ int top_idx[8][FUSED_THREADS];
    int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    long long row0 = (long long)blockIdx.x * FUSED_BM;
    // This thread's share of each slice: 4 features (from lk) of row lr of the block's rows and
    // of centre lr of the centre block.
    int lr = tid >> 1, lk = (tid & 1) * 4;
    bool vec = (d & 3) == 0;
    int c_begin = blockIdx.y * span, c_end = min(k, c_begin + span);

    #pragma unroll
    for (int i = 0; i < 8; ++i) {
        top_best[i][tid] = 1.0f / 0.0f;
        top_idx[i][tid] = 0;
    }
    for (int c0 = c_begin; c0 < c_end; c0 += FUSED_BN) {
        float acc[8][8];
        #pragma unroll
        for (int i = 0; i < 8; ++i)
            #pragma unroll
            for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
        float ra[4], rb[4];
        load_slice(x, row0 + lr, rows, d, lk, vec, ra);
        load_slice(centers, (long long)c0 + lr, c_end, d, lk, vec, rb);
        for (int p0 = 0; p0 < d; p0 += FUSED_BK) {
            __syncthreads();  // every thread is done with the last slice
            #pragma unroll
            for (int q = 0; q < 4; ++q) {
                as[lk + q][lr] = ra[q];
                bs[lk + q][lr] = rb[q];
            }
            __syncthreads();
            if (p0 + FUSED_BK < d) {  // the next slice's loads, in flight during the arithmetic
                load_slice(x, row0 + lr, rows, d, p0 + FUSED_BK + lk, vec, ra);
                load_slice(centers, (long long)c0 + lr, c_end, d, p0 + FUSED_BK + lk, vec, rb);
            }
            #pragma unroll
            for (int kk = 0; kk < FUSED_BK; ++kk) {
                float4 a0 = *reinterpret_cast<const float4*>(&as[kk][ty * 8]);
                float4 a1 = *reinterpret_cast<const float4*>(&as[kk][ty * 8 + 4]);
                float4 b0 = *reinterpret_cast<const float4*>(&bs[kk][tx * 8]);
                float4 b1 = *reinterpret_cast<const float4*>(&bs[kk][tx * 8 + 4]);
                float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
                float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
                #pragma unroll
                for (int i = 0; i < 8; ++i)
                    #pragma unroll
                    for (int j = 0; j < 8; ++j) acc[i][j] = __fmaf_rn(a[i], b[j], acc[i][j]);
            }
        }
        float cn[8];
        #pragma unroll
        for (int j = 0; j < 8; ++j) cn[j] = c0 + tx * 8 + j < c_end ? cnorm_f[c0 + tx * 8 + j] : 0.0f;
        #pragma unroll
        for (int i = 0; i < 8; ++i) {
            float best = top_best[i][tid];
            int idx = top_idx[i][tid];
            #pragma unroll
            for (int j = 0; j < 8; ++j) {
                float s = __fmaf_rn(acc[i][j], -2.0f, cn[j]);  // the CPU's fmadd(dot, -2, norm)
                if (c0 + tx * 8 + j < c_end && s < best) {  // strictly smaller: equals keep the lower index
                    best = s;
                    idx = c0 + tx * 8 + j;
                }
            }
            top_best[i][tid] = best;
            top_idx[i][tid] = idx;
        }
    }
    // The 16 threads of each row (the lanes tx of one half warp) merge by (score, index).
    #pragma unroll
    for (int i = 0; i < 8; ++i) {
        float b = top_best[i][tid];
        int j = top_idx[i][tid];
        #pragma unroll
        for (int offset = 8; offset > 0; offset >>= 1) {
            float ob = __shfl_xor_sync(FULL_MASK, b, offset);
            int oj = __shfl_xor_sync(FULL_MASK, j, offset);
            if (ob < b || (ob == b && oj < j)) {
                b = ob;
                j = oj;
            }
        }
        if (tx == 0) row_label[ty * 8 + i] = j;
        if (gridDim.y > 1 && tx == 0 && row0 + ty * 8 + i < rows) {
            long long slot = (long long)blockIdx.y * rows + row0 + ty * 8 + i;
            part_best[slot] = b;
            part_idx[slot] = (unsigned)j;
        }
    }
    if (gridDim.y > 1) return;  // assign_merge finishes the rows
    __syncthreads();
    int warp = tid >> 5, lane = tid & 31;
    for (int r = warp; r < FUSED_BM; r += FUSED_THREADS / 32) {
        long long i = row0 + r;
        if (i >= rows) break;  // the same for the whole warp
        int c = row_label[r];
        double e = exact_sq_dist(x + i * d, centers + (long long)c * d, d, lane);
        if (lane == 0) {
            labels[i] = (unsigned)c;
            dist2[i] = e;
        }
    }
}

// The groups' bests of assign_fused merged by (score, index), group by group, then the exact
// distance to the winner. One warp per row.
__global__ void assign_merge(const float* x, const float* centers, const float* part_best,
                             const unsigned* part_idx, int groups, int rows, int d,
                             unsigned* labels, double* dist2) {
    long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= rows) return;  // whole warps leave together: blockDim is a multiple of 32
    float b = part_best[warp];
    unsigned j = part_idx[warp];
    for (int g = 1; g < groups; ++g) {
        float ob = part_best[(long long)g * rows + warp];
        unsigned oj = part_idx[(long long)g * rows + warp];
        if (ob < b || (ob == b && oj < j)) {
            b = ob;
            j = oj;
        }
    }
    double e = exact_sq_dist(x + warp * d, centers + (long long)j * d, d, lane);
    if (lane == 0) {
        labels[warp] = j;
        dist2[warp] = e;
    }
}

// transform: the distance from each row of the tile to every centre, written over the GEMM's
// scores g (rows × k) as float32. One warp per row. The expansion ||x||² + ||c||² − 2 g (in f64,
// g from the GEMM) is off by at most err = margin_per_norm·||x||·||c|| (the GEMM's rounding);
// where it is below recheck·err (cancellation near a centre: fewer than log2(recheck) good bits),
// the exact f64 distance (exact_sq_dist, the CPU's sq_dist_f64) replaces it. The result is
// sqrt(max(0, ·)) rounded once to float32.
__global__ void distance_tile(float* g, const float* x, const float* centers, const double* cnorm,
                              int rows, int k, int d, double margin_per_norm, double recheck) {
    long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= rows) return;  // whole warps leave together: blockDim is a multiple of 32
    float* grow = g + warp * (long long)k;
    const float* xrow = x + warp * (long long)d;
    double xnorm2 = 0.0;
    for (int p = lane; p < d; p += 32) {
        double v = (double)xrow[p];
        xnorm2 = __dadd_rn(xnorm2, __dmul_rn(v, v));
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        xnorm2 = __dadd_rn(xnorm2, __shfl_xor_sync(FULL_MASK, xnorm2, offset));
    }
    double xnorm = sqrt(xnorm2);
    for (int base = 0; base < k; base += 32) {
        int j = base + lane;
        double s = 0.0;
        bool candidate = false;
        if (j < k) {
            s = __dsub_rn(__dadd_rn(xnorm2, cnorm[j]), __dmul_rn(2.0, (double)grow[j]));
            double err = __dmul_rn(__dmul_rn(margin_per_norm, xnorm), sqrt(cnorm[j]));
            candidate = s <= __dmul_rn(recheck, err);
        }
        unsigned mask = __ballot_sync(FULL_MASK, candidate);
        while (mask) {
            int c = base + __ffs(mask) - 1;
            mask &= mask - 1;
            double e = exact_sq_dist(xrow, centers + (long long)c * d, d, lane);
            if (c == j) s = e;
        }
        if (j < k) grow[j] = (float)sqrt(fmax(s, 0.0));
    }
}

// Per-cluster row counts of each block of ROWS_PER_BLOCK rows: hist[c * nblocks + b]. Integer
// atomics: the counts do not depend on the order of the adds.
__global__ void block_histogram(const unsigned* labels, int rows, int nblocks, int rows_per_block,
                                unsigned* hist) {
    int b = blockIdx.x;
    int end = min(rows, (b + 1) * rows_per_block);
    for (int i = b * rows_per_block + threadIdx.x; i < end; i += blockDim.x) {
        atomicAdd(&hist[(long long)labels[i] * nblocks + b], 1u);
    }
}

// Exclusive prefix sum of each block of 1024 values, in place; the block's total in totals[block].
__global__ void scan_blocks(unsigned* values, long long len, unsigned* totals) {
    __shared__ unsigned buf[1024];
    long long i = (long long)blockIdx.x * 1024 + threadIdx.x;
    unsigned v = i < len ? values[i] : 0u;
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int offset = 1; offset < 1024; offset <<= 1) {
        unsigned add = threadIdx.x >= offset ? buf[threadIdx.x - offset] : 0u;
        __syncthreads();
        buf[threadIdx.x] += add;
        __syncthreads();
    }
    if (i < len) values[i] = buf[threadIdx.x] - v;
    if (threadIdx.x == 1023) totals[blockIdx.x] = buf[1023];
}

// Adds each block's offset (the exclusive scan of the totals) to its 1024 values.
__global__ void scan_add(unsigned* values, long long len, const unsigned* offsets) {
    long long i = (long long)blockIdx.x * 1024 + threadIdx.x;
    if (i < len) values[i] += offsets[blockIdx.x];
}

// starts[c] = cursor[c * nblocks] for c < k and starts[k] = rows: where each cluster's rows begin
// in the sorted order.
__global__ void cluster_starts(const unsigned* cursor, int k, int nblocks, int rows, unsigned* starts) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < k) starts[c] = cursor[(long long)c * nblocks];
    if (c == k) starts[k] = (unsigned)rows;
}

// A stable sort of the rows by label: order[cursor + rank] = row, where rank counts the earlier
// rows of the same label. Block b places its rows warp by warp, in row order; within a warp,
// __match_any_sync finds the lanes that share a label and the lowest one advances the cursor.
// blockDim = rows_per_block = 1024 (32 warps).
__global__ void scatter_sorted(const unsigned* labels, int rows, int nblocks, unsigned* cursor,
                               unsigned* order) {
    int b = blockIdx.x;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int turn = 0; turn < 32; ++turn) {
        if (warp == turn) {
            int i = b * 1024 + warp * 32 + lane;
            unsigned label = i < rows ? labels[i] : 0xffffffffu;
            unsigned peers = __match_any_sync(FULL_MASK, label);
            unsigned* slot = i < rows ? &cursor[(long long)label * nblocks + b] : 0;
            if (i < rows) order[*slot + __popc(peers & ((1u << lane) - 1u))] = (unsigned)i;
            __syncwarp();  // every peer has read the cursor before the lowest one advances it
            if (i < rows && lane == __ffs(peers) - 1) *slot += __popc(peers);
        }
        __syncthreads();
    }
}

// One segment of at most SEGMENT rows of one cluster (rows order[begin..end], row order): its
// Σ w·(x − c) per feature, Σ w and the rows of positive weight, added in order in f64.
// weights may be null (every weight 1).
__global__ void segment_sums(const float* x, const float* centers, const double* weights,
                             const unsigned* order, const unsigned* seg_begin,
                             const unsigned* seg_end, const unsigned* seg_cluster, int d,
                             double* partial, double* partial_weight,
                             unsigned long long* partial_members) {
    int s = blockIdx.x;
    unsigned begin = seg_begin[s], end = seg_end[s], c = seg_cluster[s];
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        double center = (double)centers[(long long)c * d + j];
        double acc = 0.0;
        for (unsigned r = begin; r < end; ++r) {
            unsigned i = order[r];
            double w = weights ? weights[i] : 1.0;
            acc = __dadd_rn(acc, __dmul_rn(w, __dsub_rn((double)x[(long long)i * d + j], center)));
        }
        partial[(long long)s * d + j] = acc;
    }
    if (threadIdx.x == 0) {
        double wsum = 0.0;
        unsigned long long members = 0;
        for (unsigned r = begin; r < end; ++r) {
            double w = weights ? weights[order[r]] : 1.0;
            wsum = __dadd_rn(wsum, w);
            members += w > 0.0 ? 1ull : 0ull;
        }
        partial_weight[s] = wsum;
        partial_members[s] = members;
    }
}

// Each cluster's segments added in segment order: deltas (k × d), weights and members (k).
// seg_first[c]..seg_first[c + 1] are cluster c's segments.
__global__ void cluster_totals(const double* partial, const double* partial_weight,
                               const unsigned long long* partial_members,
                               const unsigned* seg_first, int d, double* deltas, double* weights,
                               unsigned long long* members) {
    int c = blockIdx.x;
    unsigned first = seg_first[c], last = seg_first[c + 1];
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        double acc = 0.0;
        for (unsigned s = first; s < last; ++s) acc = __dadd_rn(acc, partial[(long long)s * d + j]);
        deltas[(long long)c * d + j] = acc;
    }
    if (threadIdx.x == 0) {
        double wsum = 0.0;
        unsigned long long m = 0;
        for (unsigned s = first; s < last; ++s) {
            wsum = __dadd_rn(wsum, partial_weight[s]);
            m += partial_members[s];
        }
        weights[c] = wsum;
        members[c] = m;
    }
}

// The Calinski–Harabasz and Davies–Bouldin statistics (backend/cuda/dispersion.rs): each row's
// squared distance to its cluster's mean (f64), the features' squared differences added in
// feature order, as the CPU's dispersion (kernels/metrics.rs) adds them. One thread per row.
__global__ void dispersion_rows(const float* x, const unsigned* labels, const double* means, int rows, int d,
                                double* e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows) return;
    const float* row = x + i * d;
    const double* mean = means + (long long)labels[i] * d;
    double s = 0.0;
    for (int p = 0; p < d; ++p) {
        double t = __dsub_rn((double)row[p], mean[p]);
        s = __dadd_rn(s, __dmul_rn(t, t));
    }
    e[i] = s;
}

// k-means++ on the device (backend/cuda/seeding.rs): d2[i] is row i's squared distance to its
// closest centre so far, the rows in blocks of SEED_BLOCK (the CPU's ROW_BLOCK). Every result has
// the bits of the CPU's run (algo/kmeanspp.rs), so the same rows are drawn and chosen.
#define SEED_BLOCK 128

// Squared distance between two float32 rows with the bits of the CPU's sq_dist_in::<f32, f32>
// (kernels/points.rs), k-means++'s measure: eight float32 lanes over the whole groups of eight
// features (lane l adds features l, l + 8, ...), the features past them added in order in
// float32, the lanes widened to f64 and folded as fold_lanes folds them, the tail added last.
// One thread.
__device__ double seed_sq_dist(const float* a, const float* b, int d) {
    float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int whole = d & ~7;
    for (int p = 0; p < whole; p += 8) {
        for (int l = 0; l < 8; ++l) {
            float t = __fsub_rn(a[p + l], b[p + l]);
            lane[l] = __fadd_rn(lane[l], __fmul_rn(t, t));
        }
    }
    float tail = 0.0f;
    for (int p = whole; p < d; ++p) {
        float t = __fsub_rn(a[p], b[p]);
        tail = __fadd_rn(tail, __fmul_rn(t, t));
    }
    double folded = __dadd_rn(__dadd_rn(__dadd_rn((double)lane[0], (double)lane[4]),
                                        __dadd_rn((double)lane[1], (double)lane[5])),
                              __dadd_rn(__dadd_rn((double)lane[2], (double)lane[6]),
                                        __dadd_rn((double)lane[3], (double)lane[7])));
    return __dadd_rn(folded, (double)tail);
}

// The first centre, row `row`: every row's d2 is its distance to it. One thread per row.
__global__ void seed_first(const float* x, long long n, int d, long long row, double* d2) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) d2[i] = seed_sq_dist(x + i * d, x + row * d, d);
}

// Row `row` is the next centre: the rows it brings strictly closer move to it (their d2 becomes
// the distance to it). One thread per row.
__global__ void seed_advance(const float* x, long long n, int d, long long row, double* d2) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        double e = seed_sq_dist(x + i * d, x + row * d, d);
        if (e < d2[i]) d2[i] = e;
    }
}

// Each block's potential Σ w·d2 with the bits of the CPU's weighted_sum: the terms d2·w (d2 alone
// without weights) in four accumulators over the whole fours, folded as (l0 + l1) + (l2 + l3),
// the terms past them added in order, added last. One thread per block of rows; w may be null.
__global__ void seed_block_sums(const double* d2, const double* w, long long n, long long nblocks,
                                double* sums) {
    long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    long long start = b * SEED_BLOCK;
    int len = (int)min((long long)SEED_BLOCK, n - start);
    int whole = len & ~3;
    double l0 = 0.0, l1 = 0.0, l2 = 0.0, l3 = 0.0, tail = 0.0;
    for (int r = 0; r < whole; r += 4) {
        const double* v = d2 + start + r;
        if (w) {
            const double* u = w + start + r;
            l0 = __dadd_rn(l0, __dmul_rn(v[0], u[0]));
            l1 = __dadd_rn(l1, __dmul_rn(v[1], u[1]));
            l2 = __dadd_rn(l2, __dmul_rn(v[2], u[2]));
            l3 = __dadd_rn(l3, __dmul_rn(v[3], u[3]));
        } else {
            l0 = __dadd_rn(l0, v[0]);
            l1 = __dadd_rn(l1, v[1]);
            l2 = __dadd_rn(l2, v[2]);
            l3 = __dadd_rn(l3, v[3]);
        }
    }
    for (int r = whole; r < len; ++r) {
        double term = w ? __dmul_rn(d2[start + r], w[start + r]) : d2[start + r];
        tail = __dadd_rn(tail, term);
    }
    sums[b] = __dadd_rn(__dadd_rn(__dadd_rn(l0, l1), __dadd_rn(l2, l3)), tail);
}

// Each candidate's gain in each block of rows: gains[b · trials + t] = Σ w·(d2 − e) over the rows
// of block b that candidate t (row cands[t]) brings strictly closer (e < d2), added in row order
// from 0. One block of SEED_BLOCK threads per block of rows, a thread per row; w may be null.
__global__ void seed_score(const float* x, const double* w, const double* d2, long long n, int d,
                           const long long* cands, int trials, double* gains) {
    __shared__ double term[SEED_BLOCK];
    __shared__ int closer[SEED_BLOCK];
    long long b = blockIdx.x;
    int r = threadIdx.x;
    long long i = b * SEED_BLOCK + r;
    bool valid = i < n;
    double current = valid ? d2[i] : 0.0;
    for (int t = 0; t < trials; ++t) {
        bool moves = false;
        double v = 0.0;
        if (valid) {
            double e = seed_sq_dist(x + i * d, x + cands[t] * d, d);
            moves = e < current;
            if (moves) v = __dmul_rn(w ? w[i] : 1.0, __dsub_rn(current, e));
        }
        term[r] = v;
        closer[r] = moves ? 1 : 0;
        __syncthreads();
        if (r == 0) {
            double gain = 0.0;
            for (int q = 0; q < SEED_BLOCK; ++q) {
                if (closer[q]) gain = __dadd_rn(gain, term[q]);
            }
            gains[b * trials + t] = gain;
        }
        __syncthreads();
    }
}

// Each candidate's gain over all rows: its blocks' gains added in block order, from 0. One
// thread per candidate.
__global__ void seed_totals(const double* gains, long long nblocks, int trials, double* totals) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= trials) return;
    double total = 0.0;
    for (long long b = 0; b < nblocks; ++b) total = __dadd_rn(total, gains[b * trials + t]);
    totals[t] = total;
}

// The exact silhouette's sums (backend/cuda/silhouette.rs): a tile of rows against a tile of
// columns, both rows of the data in label order centred on its mean, in f64. dots: rows × cols
// (row-major) from DGEMM; rnorm, cnorm: their squared norms (cnorm from the tile's first column);
// row_pos: each row's place in label order, col0 the first column's (a row's distance to itself
// is left out: 0). The columns fall into runs of one cluster: run s is columns
// seg_begin[s]..seg_begin[s + 1] of cluster seg_cluster[s]. acc[r · k + c] += the run's
// Σ sqrt(max(0, ||x||² + ||y||² − 2 x·y)), each lane adding every 32nd column in order, the lanes
// folded by a xor butterfly: a fixed order, whatever the scheduling. One warp per row.
__global__ void silhouette_tile(const double* dots, const double* rnorm, const double* cnorm,
                                const long long* row_pos, int rows, int cols, long long col0,
                                const int* seg_begin, const int* seg_cluster, int nseg, int k,
                                double* acc) {
    long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= rows) return;  // whole warps leave together: blockDim is a multiple of 32
    const double* drow = dots + warp * (long long)cols;
    double xn = rnorm[warp];
    long long own = row_pos[warp] - col0;
    for (int s = 0; s < nseg; ++s) {
        double part = 0.0;
        for (int c = seg_begin[s] + lane; c < seg_begin[s + 1]; c += 32) {
            if (c == own) continue;
            double e = __dsub_rn(__dadd_rn(xn, cnorm[c]), __dmul_rn(2.0, drow[c]));
            part = __dadd_rn(part, sqrt(fmax(e, 0.0)));
        }
        for (int offset = 16; offset > 0; offset >>= 1) {
            part = __dadd_rn(part, __shfl_xor_sync(FULL_MASK, part, offset));
        }
        if (lane == 0) {
            double* slot = acc + warp * (long long)k + seg_cluster[s];
            *slot = __dadd_rn(*slot, part);
        }
    }
}

}  // extern "C"
