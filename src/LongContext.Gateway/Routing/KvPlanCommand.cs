using System.Globalization;
using LongContext.Routing.Memory;

namespace LongContext.Gateway.Routing;

/// <summary>
/// <c>kv-plan --layers 80 --kv-heads 8 --head-dim 128 --tokens 1000000 [--bytes 2] [--weights-gb 140]
/// [--gpu-gb 80] [--tp 1] [--reserve 0.1]</c>: the KV memory planner as a sizing tool. Prints the cache
/// for that model and length, and how many GPUs of that size it takes with tensor parallelism of
/// <c>--tp</c> (weights and KV heads split over that many GPUs) for full attention (no context
/// parallelism: one tensor-parallel group holds the whole cache), ring/star context parallelism
/// (the sequence's cache sharded over groups) and infini-attention (one segment kept).
/// </summary>
internal static class KvPlanCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        double Number(string name, double? fallback)
        {
            if (options.TryGetValue(name, out var text))
            {
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
                    ? value
                    : throw new FormatException($"{name} must be a non-negative number, not '{text}'");
            }

            return fallback ?? throw new FormatException($"{name} is required");
        }

        try
        {
            if (args.Length % 2 != 0 || options.Keys.Any(k => k is not ("--layers" or "--kv-heads" or "--head-dim" or "--tokens" or "--bytes" or "--weights-gb" or "--gpu-gb" or "--reserve" or "--segment" or "--tp")))
            {
                throw new FormatException("options are --layers --kv-heads --head-dim --tokens [--bytes 2] [--weights-gb 0] [--gpu-gb 80] [--tp 1] [--reserve 0.1] [--segment 2048]");
            }

            var shape = new KvCacheShape
            {
                Layers = (int)Number("--layers", null),
                KvHeads = (int)Number("--kv-heads", null),
                HeadDim = (int)Number("--head-dim", null),
                BytesPerValue = (int)Number("--bytes", 2),
            };
            var tokens = (long)Number("--tokens", null);
            var tp = (int)Number("--tp", 1);
            var weights = Number("--weights-gb", 0) * 1e9 / Math.Max(tp, 1);
            var gpu = Number("--gpu-gb", 80) * 1e9;
            var usable = gpu * (1 - Number("--reserve", 0.1));
            var segment = (long)Number("--segment", 2048);
            if (shape.Layers < 1 || shape.KvHeads < 1 || shape.HeadDim < 1 || shape.BytesPerValue < 1 || tokens < 1 || tp < 1 || usable <= weights)
            {
                throw new FormatException("layers, KV heads, head dim, bytes, tokens and --tp must be positive, and a GPU must hold more than its share of the weights (raise --tp)");
            }

            var total = KvMemoryPlanner.BytesPerDevice(shape, tokens, 1, default);
            long PerGpu(long cache) => (cache + tp - 1) / tp;
            output.WriteLine(FormattableString.Invariant($"KV cache: 2 x {shape.Layers} layers x {shape.KvHeads} KV heads x {shape.HeadDim} x {tokens:N0} tokens x {shape.BytesPerValue} B = {total / 1e9:0.#} GB"));
            output.WriteLine(FormattableString.Invariant($"Per GPU: {gpu / 1e9:0} GB, {usable / 1e9:0} GB usable; tensor parallel {tp}: {weights / 1e9:0.#} GB of weights on each"));
            var full = weights + PerGpu(total) <= usable
                ? FormattableString.Invariant($"{tp} GPU(s), {PerGpu(total) / 1e9:0.#} GB of cache each")
                : FormattableString.Invariant($"does not fit {tp} GPU(s) ({PerGpu(total) / 1e9:0.#} GB of cache each)");
            output.WriteLine($"full attention (one tensor-parallel group): {full}");
            var groups = 1;
            while (weights + PerGpu(KvMemoryPlanner.BytesPerDevice(shape, tokens, groups, new KvLayout(ShardedOverDevices: true))) > usable && groups < 4096)
            {
                groups++;
            }

            var sharded = PerGpu(KvMemoryPlanner.BytesPerDevice(shape, tokens, groups, new KvLayout(ShardedOverDevices: true)));
            output.WriteLine(FormattableString.Invariant($"ring / star (cache sharded over {groups} context-parallel group(s) of {tp}): {groups * tp} GPUs, {sharded / 1e9:0.#} GB of cache each"));
            var infini = PerGpu(KvMemoryPlanner.BytesPerDevice(shape, tokens, 1, new KvLayout(TokenLimit: segment)));
            output.WriteLine(FormattableString.Invariant($"infini (one segment of {segment:N0} tokens kept): {infini / 1e9:0.###} GB of cache each, {(weights + infini <= usable ? tp + " GPU(s)" : "does not fit")}"));
            return 0;
        }
        catch (FormatException e)
        {
            error.WriteLine("kv-plan: " + e.Message);
            return 2;
        }
    }
}
