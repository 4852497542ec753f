using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

/// <summary>Fresh random inputs, and softmax attention in float64 written out in loops.</summary>
internal static class Reference
{
    public static (Tensor Q, Tensor K, Tensor V) Inputs(int batch, int queryHeads, int kvHeads, int lq, int lk, int d, double magnitude = 1)
    {
        // Fresh inputs every run: a bug that only shows on some values shows eventually.
        var generator = new Generator((ulong)Random.Shared.NextInt64());
        return (randn([batch, queryHeads, lq, d], generator: generator) * magnitude, randn([batch, kvHeads, lk, d], generator: generator) * magnitude, randn([batch, kvHeads, lk, d], generator: generator));
    }

    /// <summary>Softmax attention in float64 with explicit loops: the definition, not an optimisation of it.</summary>
    public static (Tensor Output, Tensor LogSumExp) Attention(Tensor q, Tensor k, Tensor v, BlockMask mask)
    {
        var (b, hq, lq, d) = ((int)q.shape[0], (int)q.shape[1], (int)q.shape[2], (int)q.shape[3]);
        var (hkv, lk) = ((int)k.shape[1], (int)k.shape[2]);
        var qa = q.to(ScalarType.Float64).data<double>().ToArray();
        var ka = k.to(ScalarType.Float64).data<double>().ToArray();
        var va = v.to(ScalarType.Float64).data<double>().ToArray();
        var output = new double[b * hq * lq * d];
        var lse = new double[b * hq * lq];
        var scale = 1 / Math.Sqrt(d);
        for (var n = 0; n < b; n++)
        {
            for (var h = 0; h < hq; h++)
            {
                var kvh = h / (hq / hkv);
                for (var i = 0; i < lq; i++)
                {
                    var scores = new double[lk];
                    var max = double.NegativeInfinity;
                    for (var j = 0; j < lk; j++)
                    {
                        var visible = !mask.Causal || mask.KeyOffset + j <= mask.QueryOffset + i;
                        double s = 0;
                        for (var x = 0; x < d; x++)
                        {
                            s += qa[((n * hq + h) * lq + i) * d + x] * ka[((n * hkv + kvh) * lk + j) * d + x];
                        }

                        scores[j] = visible ? s * scale : double.NegativeInfinity;
                        max = Math.Max(max, scores[j]);
                    }

                    var row = (n * hq + h) * lq + i;
                    if (double.IsNegativeInfinity(max))
                    {
                        lse[row] = double.NegativeInfinity;
                        continue;
                    }

                    var sum = scores.Sum(s => Math.Exp(s - max));
                    lse[row] = max + Math.Log(sum);
                    for (var x = 0; x < d; x++)
                    {
                        double acc = 0;
                        for (var j = 0; j < lk; j++)
                        {
                            acc += Math.Exp(scores[j] - lse[row]) * va[((n * hkv + kvh) * lk + j) * d + x];
                        }

                        output[row * d + x] = acc;
                    }
                }
            }
        }

        return (tensor(output, [b, hq, lq, d]), tensor(lse, [b, hq, lq]));
    }

    /// <summary>Softmax attention in float64 under an explicit allowed[query, key] mask.</summary>
    public static Tensor MaskedAttention(Tensor q, Tensor k, Tensor v, bool[,] allowed)
    {
        var group = q.shape[1] / k.shape[1];
        var qd = q.to(ScalarType.Float64);
        var kd = k.to(ScalarType.Float64).repeat_interleave(group, dim: 1);
        var vd = v.to(ScalarType.Float64).repeat_interleave(group, dim: 1);
        var (n, m) = (allowed.GetLength(0), allowed.GetLength(1));
        var flat = new bool[n * m];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < m; j++)
            {
                flat[i * m + j] = allowed[i, j];
            }
        }

        var mask = tensor(flat, [n, m]);
        var scores = matmul(qd, kd.transpose(-2, -1)) / Math.Sqrt(q.shape[3]);
        return matmul(scores.masked_fill(mask.logical_not(), double.NegativeInfinity).softmax(-1), vd);
    }
}
