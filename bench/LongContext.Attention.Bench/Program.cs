// Time and peak memory of the attention methods against sequence length, on this machine's CPU
// (or a CUDA device when one is present). Each (method, length) runs in its own process so its
// peak resident memory (VmHWM) is its own. Run in Release:
//   dotnet run -c Release --project bench/LongContext.Attention.Bench [-- --lengths 1024,4096,16384]
using System.Diagnostics;
using LongContext.Attention.Blockwise;
using LongContext.Attention.Infini;
using LongContext.Attention.Ring;
using LongContext.Attention.Sparse;
using LongContext.Attention.Star;
using static TorchSharp.torch;

const int Heads = 2, HeadDim = 64;
string[] methods = ["sdpa", "blockwise", "ring4", "star", "infini", "sparse"];

if (args is ["--one", var oneMethod, var lengthText])
{
    var length = int.Parse(lengthText, System.Globalization.CultureInfo.InvariantCulture);
    var device = cuda.is_available() ? CUDA : CPU;
    var seconds = Run(oneMethod, length, device);
    var peak = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    Console.WriteLine($"{seconds:0.0000} {peak}");
    return;
}

var lengths = args is ["--lengths", var list] ? list.Split(',').Select(int.Parse).ToArray() : [1024, 2048, 4096, 8192, 16384, 32768, 65536];
Console.WriteLine($"machine: {Environment.ProcessorCount} cores; device {(cuda.is_available() ? "cuda" : "cpu")}; {Heads} heads x {HeadDim}, causal, fp32; {DateTime.UtcNow:yyyy-MM-dd}");
Console.WriteLine("| length | " + string.Join(" | ", methods) + " |");
foreach (var length in lengths)
{
    var cells = new List<string>();
    foreach (var method in methods)
    {
        // Dense L×L scores are skipped where they would not fit in this machine's memory.
        if (method == "blockwise" && (long)length * length * Heads * 4 * 3 > 12L << 30)
        {
            cells.Add("—");
            continue;
        }

        var host = Environment.ProcessPath!;
        string[] childArgs = ["--one", method, length.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var process = Process.Start(new ProcessStartInfo(host, Path.GetFileNameWithoutExtension(host) == "dotnet" ? [typeof(Program).Assembly.Location, .. childArgs] : childArgs)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var line = process.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
        process.WaitForExit();
        var parts = line.Split(' ');
        cells.Add(parts.Length == 2 ? $"{double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1000:0} ms / {long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) / 1024} MB" : "failed");
    }

    Console.WriteLine($"| {length:N0} | " + string.Join(" | ", cells) + " |");
}

static double Run(string method, int length, Device device)
{
    var generator = new Generator(42, device: device);
    var q = randn([1, Heads, length, HeadDim], generator: generator, device: device);
    var k = randn([1, Heads, length, HeadDim], generator: generator, device: device);
    var v = randn([1, Heads, length, HeadDim], generator: generator, device: device);
    using var _ = inference_mode();
    Func<Tensor> call = method switch
    {
        "sdpa" => () => nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true),
        "blockwise" => () => BlockAttention.Attend(q, k, v, new BlockMask(Causal: true)).Output,
        "ring4" => () => RingAttention.Attend(q, k, v, ranks: 4, causal: true),
        "star" => () => StarAttention.EncodeContext(q, k, v, blockSize: Math.Max(256, length / 8)),
        "infini" => () => Infini(q, k, v),
        "sparse" => () => SparseAttention.Attend(q, k, v, window: 512, globalTokens: [0, 1, 2, 3], causal: true, blockSize: 256),
        _ => throw new ArgumentException(method),
    };

    // One warm-up where it is cheap; the timed runs' median.
    var runs = length <= 8192 ? 3 : 1;
    if (length <= 8192)
    {
        call().Dispose();
    }

    var times = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        var watch = Stopwatch.StartNew();
        using var output = call();
        if (device.type == TorchSharp.DeviceType.CUDA)
        {
            cuda.synchronize();
        }

        times.Add(watch.Elapsed.TotalSeconds);
    }

    return times.Order().ElementAt(times.Count / 2);
}

static Tensor Infini(Tensor q, Tensor k, Tensor v)
{
    using var infini = new InfiniAttention(segmentLength: 2048, beta: zeros(Heads, device: q.device));
    return infini.Forward(q, k, v);
}
