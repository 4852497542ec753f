using static TorchSharp.torch;

namespace LongContext.Backend.Model;

/// <summary>
/// Rotary position embeddings in the Hugging Face Llama convention (the two halves of each head
/// rotated against each other), so checkpoints trained with it load unchanged.
/// </summary>
internal static class Rope
{
    /// <summary>Rotates x (batch, heads, length, d) by its positions (length) or (batch, length).</summary>
    public static Tensor Apply(Tensor x, Tensor positions, double theta)
    {
        using var scope = NewDisposeScope();
        var d = x.shape[^1];
        var inverse = pow(theta, -arange(0, d, 2, dtype: ScalarType.Float32, device: x.device) / d);
        var p = positions.to(ScalarType.Float32, x.device);
        var angles = p.unsqueeze(-1) * inverse; // (…, length, d/2)
        var both = cat([angles, angles], dim: -1);
        // (length, d) → (1, 1, length, d); (batch, length, d) → (batch, 1, length, d)
        var (cos, sin) = positions.dim() == 1
            ? (both.cos().unsqueeze(0).unsqueeze(0), both.sin().unsqueeze(0).unsqueeze(0))
            : (both.cos().unsqueeze(1), both.sin().unsqueeze(1));
        var half = d / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], dim: -1);
        return (x * cos.to(x.dtype) + rotated * sin.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
