using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LongContext.Backend.Model;

/// <summary>
/// The decoder's parameters under their Hugging Face Llama names (model.layers.N.self_attn.q_proj.weight …),
/// so a checkpoint loads by name and saves in the same layout.
/// </summary>
public sealed class DecoderWeights : IDisposable
{
    private readonly Dictionary<string, Parameter> _parameters;

    private DecoderWeights(DecoderConfig config, Dictionary<string, Parameter> parameters) => (Config, _parameters) = (config, parameters);

    public DecoderConfig Config { get; }

    public IReadOnlyDictionary<string, Parameter> Parameters => _parameters;

    public Tensor this[string name] => _parameters.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"The checkpoint has no tensor '{name}'.");

    public bool Has(string name) => _parameters.ContainsKey(name);

    public long ParameterCount => _parameters.Values.Sum(p => p.numel());

    /// <summary>The shapes every Llama-family checkpoint of this config must have, by name.</summary>
    public static IEnumerable<(string Name, long[] Shape)> ExpectedShapes(DecoderConfig c)
    {
        var (d, q, kv) = (c.HiddenSize, c.Heads * c.HeadDimension, c.KeyValueHeads * c.HeadDimension);
        yield return ("model.embed_tokens.weight", [c.VocabularySize, d]);
        for (var i = 0; i < c.Layers; i++)
        {
            var layer = $"model.layers.{i}.";
            yield return (layer + "input_layernorm.weight", [d]);
            yield return (layer + "self_attn.q_proj.weight", [q, d]);
            yield return (layer + "self_attn.k_proj.weight", [kv, d]);
            yield return (layer + "self_attn.v_proj.weight", [kv, d]);
            yield return (layer + "self_attn.o_proj.weight", [d, q]);
            yield return (layer + "post_attention_layernorm.weight", [d]);
            yield return (layer + "mlp.gate_proj.weight", [c.IntermediateSize, d]);
            yield return (layer + "mlp.up_proj.weight", [c.IntermediateSize, d]);
            yield return (layer + "mlp.down_proj.weight", [d, c.IntermediateSize]);
        }

        yield return ("model.norm.weight", [d]);
        if (!c.TieWordEmbeddings)
        {
            yield return ("lm_head.weight", [c.VocabularySize, d]);
        }
    }

    /// <summary>Fresh weights, seeded: normal(0, 0.02) projections (output projections scaled by depth), unit norms.</summary>
    public static DecoderWeights Initialise(DecoderConfig config, long seed)
    {
        using var generator = new Generator((ulong)seed);
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var (name, shape) in ExpectedShapes(config))
        {
            Tensor value;
            if (shape.Length == 1)
            {
                value = ones(shape);
            }
            else
            {
                var std = name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)
                    ? 0.02 / Math.Sqrt(2.0 * config.Layers)
                    : 0.02;
                value = normal(0, std, shape, generator: generator);
            }

            parameters[name] = new Parameter(value);
        }

        AddInfiniGates(config, parameters);
        return new DecoderWeights(config, parameters);
    }

    /// <summary>Weights from tensors by name; every expected tensor must be there with its shape. Extra tensors are refused by name.</summary>
    public static DecoderWeights FromTensors(DecoderConfig config, IReadOnlyDictionary<string, Tensor> tensors, Device device, ScalarType dtype)
    {
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var (name, shape) in ExpectedShapes(config))
        {
            if (!tensors.TryGetValue(name, out var value))
            {
                throw new InvalidDataException($"The checkpoint has no tensor '{name}' (expected shape [{string.Join(", ", shape)}]).");
            }

            if (!value.shape.SequenceEqual(shape))
            {
                throw new InvalidDataException($"Tensor '{name}' has shape [{string.Join(", ", value.shape)}]; config.json implies [{string.Join(", ", shape)}].");
            }

            parameters[name] = new Parameter(value.to(dtype, device), requires_grad: false);
        }

        foreach (var (name, value) in tensors.Where(t => t.Key.EndsWith(InfiniGateSuffix, StringComparison.Ordinal)))
        {
            parameters[name] = new Parameter(value.to(ScalarType.Float32, device), requires_grad: false);
        }

        AddInfiniGates(config, parameters);
        return new DecoderWeights(config, parameters);
    }

    internal const string InfiniGateSuffix = "self_attn.lcg_infini_beta";

    public static string InfiniGate(int layer) => $"model.layers.{layer}.{InfiniGateSuffix}";

    /// <summary>
    /// Infini-attention's per-head gate β (sigmoid(β) weighs the memory). A checkpoint without one
    /// (any model not trained with the memory path) gets β = 0, an even mix.
    /// </summary>
    private static void AddInfiniGates(DecoderConfig config, Dictionary<string, Parameter> parameters)
    {
        for (var i = 0; i < config.Layers; i++)
        {
            if (!parameters.ContainsKey(InfiniGate(i)))
            {
                parameters[InfiniGate(i)] = new Parameter(zeros(config.Heads), requires_grad: false);
            }
        }
    }

    public void Dispose()
    {
        foreach (var parameter in _parameters.Values)
        {
            parameter.Dispose();
        }
    }
}
