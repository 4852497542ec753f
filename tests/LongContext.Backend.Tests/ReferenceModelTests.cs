using LongContext.Backend.Checkpoints;
using LongContext.Backend.Generation;
using LongContext.Backend.Model;
using LongContext.Backend.Training;
using static TorchSharp.torch;

namespace LongContext.Backend.Tests;

/// <summary>The committed reference model (models/lcg-reference), measured with fixed seeds.</summary>
public sealed class ReferenceModelTests
{
    internal static string ModelDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "LongContext.Gateway.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? throw new DirectoryNotFoundException("repository root not found"), "models", "lcg-reference");
    }

    [Fact]
    public async Task PasskeyAccuracy_AtTheTrainingLength_IsAtLeast90Percent()
    {
        var (weights, tokenizer) = Checkpoint.Load(ModelDirectory(), CPU);
        using (weights)
        {
            var length = weights.Config.TrainingLength ?? throw new InvalidDataException("config.json has no lcg_training_length");
            var generator = new TextGenerator(new Decoder(weights), tokenizer);
            var hits = 0;
            const int Probes = 40;
            for (var i = 0; i < Probes; i++)
            {
                // Seeds unlike the training run's; depths evenly over 0–100 %.
                var probe = NeedleTasks.Passkey(new Random(7_000 + i), length - 1, i / (double)(Probes - 1));
                var answer = "";
                await foreach (var update in generator.GenerateAsync([tokenizer.BeginId!.Value, .. tokenizer.Encode(probe.Prompt)], null, new AttentionSettings(), new SamplingOptions { MaxTokens = 8 }))
                {
                    answer += update.Delta;
                }

                hits += answer.StartsWith(probe.Answer, StringComparison.Ordinal) ? 1 : 0;
            }

            Assert.True(hits >= 0.9 * Probes, $"passkey accuracy at {length} bytes: {hits}/{Probes}");
        }
    }
}
