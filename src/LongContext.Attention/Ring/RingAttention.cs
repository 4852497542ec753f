using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.Ring;

/// <summary>How the sequence is cut among the ring's ranks.</summary>
public enum RingSharding
{
    /// <summary>Rank r holds the r-th of P equal pieces; under a causal mask later ranks do more work.</summary>
    Contiguous,

    /// <summary>The sequence in 2P pieces, rank r holds pieces r and 2P−1−r: every rank does the same causal work.</summary>
    Zigzag,
}

/// <summary>
/// Ring attention (Liu et al. 2023): the sequence is sharded over P ranks; each rank keeps its
/// queries and passes its key/value block to the next rank, P times round the ring, merging each
/// partial result by log-sum-exp — exact, with per-rank score memory (L/P)² instead of L².
/// With P CUDA devices each rank lives on its own device and the next block's copy is issued
/// before the current block is computed, so the transfer overlaps the compute; otherwise the P
/// ranks share q's device and run in turn.
/// </summary>
public static class RingAttention
{
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int ranks, bool causal, RingSharding sharding = RingSharding.Zigzag, IReadOnlyList<Device>? devices = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        var length = q.shape[2];
        if (k.shape[2] != length)
        {
            throw new ArgumentException("Ring attention shards one sequence: queries and keys must have the same length.", nameof(k));
        }

        using var scope = NewDisposeScope();
        var places = devices is { Count: > 0 } ? devices : [q.device];
        var pieces = Pieces(length, sharding == RingSharding.Zigzag ? 2 * ranks : ranks);
        var owned = Enumerable.Range(0, ranks)
            .Select(r => sharding == RingSharding.Zigzag ? new[] { pieces[r], pieces[2 * ranks - 1 - r] } : [pieces[r]])
            .Select(p => p.Where(piece => piece.Length > 0).ToArray())
            .ToArray();
        Device DeviceOf(int rank) => places[rank % places.Count];

        // Each rank's queries, and the key/value block it starts the ring with, on its device.
        var queries = owned.Select((p, r) => p.Select(piece => q.narrow(2, piece.Start, piece.Length).to(DeviceOf(r))).ToArray()).ToArray();
        var held = owned.Select((p, r) => p.Select(piece => (Piece: piece, K: k.narrow(2, piece.Start, piece.Length).to(DeviceOf(r)), V: v.narrow(2, piece.Start, piece.Length).to(DeviceOf(r)))).ToArray()).ToArray();
        var results = owned.Select(p => new (Tensor Output, Tensor Lse)?[p.Length]).ToArray();

        for (var step = 0; step < ranks; step++)
        {
            // Issue the next step's transfers first (rank r receives what rank r−1 holds); on CUDA they overlap the compute below.
            var next = step + 1 < ranks
                ? Enumerable.Range(0, ranks).Select(r => held[(r - 1 + ranks) % ranks].Select(b => (b.Piece, K: b.K.to(DeviceOf(r), non_blocking: true), V: b.V.to(DeviceOf(r), non_blocking: true))).ToArray()).ToArray()
                : null;

            for (var r = 0; r < ranks; r++)
            {
                for (var i = 0; i < owned[r].Length; i++)
                {
                    var queryPiece = owned[r][i];
                    foreach (var block in held[r])
                    {
                        if (causal && block.Piece.Start >= queryPiece.End)
                        {
                            continue; // wholly in this query piece's future: nothing to see
                        }

                        var mask = new BlockMask(causal, queryPiece.Start, block.Piece.Start);
                        var part = BlockAttention.Attend(queries[r][i], block.K, block.V, mask);
                        if (results[r][i] is { } soFar)
                        {
                            // Partial results are freed as soon as they are merged: a rank holds one accumulator per query piece.
                            results[r][i] = BlockAttention.Merge(soFar.Output, soFar.Lse, part.Output, part.LogSumExp);
                            soFar.Output.Dispose();
                            soFar.Lse.Dispose();
                            part.Output.Dispose();
                            part.LogSumExp.Dispose();
                        }
                        else
                        {
                            results[r][i] = part;
                        }
                    }
                }
            }

            if (next is not null)
            {
                held = next;
            }
        }

        // Back to sequence order on q's device.
        var ordered = owned.SelectMany((p, r) => p.Select((piece, i) => (piece.Start, Output: results[r][i]!.Value.Output.to(q.device))))
            .OrderBy(x => x.Start).Select(x => x.Output).ToArray();
        return cat(ordered, dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>Cuts 0..length into n contiguous pieces whose lengths differ by at most one.</summary>
    internal static (long Start, long End, long Length)[] Pieces(long length, int n)
    {
        var pieces = new (long, long, long)[n];
        var start = 0L;
        for (var i = 0; i < n; i++)
        {
            var size = length / n + (i < length % n ? 1 : 0);
            pieces[i] = (start, start + size, size);
            start += size;
        }

        return pieces;
    }
}
