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
/// One rank's share of a sequence sharded for ring attention: the pieces it owns (where they sit in
/// the whole sequence, in order) and their queries, keys and values laid end to end on the rank's
/// device — (batch, heads, Σ piece lengths, d).
/// </summary>
public sealed record RingShard(IReadOnlyList<RingPiece> Pieces, Tensor Q, Tensor K, Tensor V)
{
    public long Length => Pieces.Sum(p => p.Length);
}

/// <summary>A contiguous run of the sequence, positions [Start, Start + Length).</summary>
public readonly record struct RingPiece(long Start, long Length)
{
    public long End => Start + Length;
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
    /// <summary>Attention over one whole sequence: sharded here, attended round the ring, put back in order on q's device.</summary>
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
        var layout = Layout(length, ranks, sharding);
        Tensor Gather(Tensor x, IReadOnlyList<RingPiece> pieces, Device device) =>
            cat([.. pieces.Select(p => x.narrow(2, p.Start, p.Length))], 2).to(device);
        var shards = layout.Select((pieces, r) => new RingShard(pieces, Gather(q, pieces, places[r % places.Count]), Gather(k, pieces, places[r % places.Count]), Gather(v, pieces, places[r % places.Count]))).ToList();
        var outputs = AttendShards(shards, causal);

        // Back to sequence order on q's device.
        var ordered = shards.SelectMany((shard, r) => Split(outputs[r], shard.Pieces).Select(x => (x.Piece.Start, Output: x.Part.to(q.device))))
            .OrderBy(x => x.Start).Select(x => x.Output).ToArray();
        return cat(ordered, dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attention for a sequence already sharded over the ranks (each shard on its own device): every
    /// rank's output for its own queries, pieces end to end, on the rank's device. The shards' pieces
    /// together must cover the sequence once.
    /// </summary>
    public static Tensor[] AttendShards(IReadOnlyList<RingShard> shards, bool causal)
    {
        ArgumentOutOfRangeException.ThrowIfZero(shards.Count);
        using var scope = NewDisposeScope();
        var ranks = shards.Count;
        var queries = shards.Select(s => Split(s.Q, s.Pieces).ToArray()).ToArray();
        var held = shards.Select(s => Split(s.K, s.Pieces).Zip(Split(s.V, s.Pieces), (k, v) => (k.Piece, K: k.Part, V: v.Part)).ToArray()).ToArray();
        var results = shards.Select(s => new (Tensor Output, Tensor Lse)?[s.Pieces.Count]).ToArray();

        for (var step = 0; step < ranks; step++)
        {
            // Issue the next step's transfers first (rank r receives what rank r−1 holds); on CUDA they overlap the compute below.
            var next = step + 1 < ranks
                ? Enumerable.Range(0, ranks).Select(r => held[(r - 1 + ranks) % ranks].Select(b => (b.Piece, K: b.K.to(shards[r].Q.device, non_blocking: true), V: b.V.to(shards[r].Q.device, non_blocking: true))).ToArray()).ToArray()
                : null;

            for (var r = 0; r < ranks; r++)
            {
                for (var i = 0; i < queries[r].Length; i++)
                {
                    var (queryPiece, query) = queries[r][i];
                    foreach (var block in held[r])
                    {
                        if (causal && block.Piece.Start >= queryPiece.End)
                        {
                            continue; // wholly in this query piece's future: nothing to see
                        }

                        var mask = new BlockMask(causal, queryPiece.Start, block.Piece.Start);
                        var part = BlockAttention.Attend(query, block.K, block.V, mask);
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

        return [.. results.Select((pieces, r) => cat([.. pieces.Select(p => p!.Value.Output)], 2).MoveToOuterDisposeScope())];
    }

    /// <summary>
    /// Which pieces of 0..length each rank owns: one piece each (contiguous) or pieces r and 2P−1−r
    /// (zigzag). Empty pieces are left out, and so are ranks left with none (a sequence shorter than the ring).
    /// </summary>
    public static IReadOnlyList<RingPiece>[] Layout(long length, int ranks, RingSharding sharding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        var pieces = Pieces(length, sharding == RingSharding.Zigzag ? 2 * ranks : ranks);
        return [.. Enumerable.Range(0, ranks)
            .Select(r => sharding == RingSharding.Zigzag ? new[] { pieces[r], pieces[2 * ranks - 1 - r] } : [pieces[r]])
            .Select(p => (IReadOnlyList<RingPiece>)[.. p.Where(piece => piece.Length > 0).Select(piece => new RingPiece(piece.Start, piece.Length))])
            .Where(p => p.Count > 0)];
    }

    private static IEnumerable<(RingPiece Piece, Tensor Part)> Split(Tensor x, IReadOnlyList<RingPiece> pieces)
    {
        var offset = 0L;
        foreach (var piece in pieces)
        {
            yield return (piece, x.narrow(2, offset, piece.Length));
            offset += piece.Length;
        }
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
