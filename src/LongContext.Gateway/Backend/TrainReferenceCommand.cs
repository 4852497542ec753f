using System.Globalization;
using LongContext.Backend.Training;

namespace LongContext.Gateway.Backend;

/// <summary>
/// <c>train-reference</c>: trains the byte-level reference model for needle retrieval on the CPU
/// with a fixed seed and writes config.json + model.safetensors to the output folder.
/// </summary>
internal static class TrainReferenceCommand
{
    public const string Usage = "usage: train-reference --out FOLDER [--seed N] [--minutes M] [--max-steps N] [--threads N] [--from FOLDER] [--infini-segment N] [--learning-rate R]";

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var options = new TrainingOptions();
        string? outPath = null;
        try
        {
            for (var i = 0; i < args.Count; i++)
            {
                switch (args[i])
                {
                    case "--out" when i + 1 < args.Count: outPath = args[++i]; break;
                    case "--seed" when i + 1 < args.Count: options = options with { Seed = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                    case "--minutes" when i + 1 < args.Count: options = options with { TimeBudget = TimeSpan.FromMinutes(double.Parse(args[++i], CultureInfo.InvariantCulture)) }; break;
                    case "--max-steps" when i + 1 < args.Count: options = options with { MaxSteps = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                    case "--threads" when i + 1 < args.Count: options = options with { Threads = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                    case "--learning-rate" when i + 1 < args.Count: options = options with { LearningRate = double.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                    case "--from" when i + 1 < args.Count: options = options with { InitialCheckpoint = args[++i] }; break;
                    case "--infini-segment" when i + 1 < args.Count: options = options with { InfiniSegmentTokens = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
                    default:
                        error.WriteLine($"train-reference: unknown or incomplete option {args[i]}\n{Usage}");
                        return 2;
                }
            }
        }
        catch (FormatException e)
        {
            error.WriteLine($"train-reference: {e.Message}\n{Usage}");
            return 2;
        }

        if (outPath is null)
        {
            error.WriteLine(Usage);
            return 2;
        }

        var result = new ReferenceTrainer(options, output.WriteLine).Train(outPath);
        output.WriteLine($"trained {result.Parameters:N0} parameters in {result.Elapsed.TotalMinutes:0.0} min, kept the weights of step {result.Steps}; held-out passkey accuracy at {options.MaxLength} bytes: {result.Accuracy:P1}; written to {outPath}");
        return 0;
    }
}
