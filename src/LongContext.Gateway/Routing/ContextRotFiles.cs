using System.Text.Json;
using System.Text.Json.Serialization;
using LongContext.Gateway.Hosting;
using LongContext.Routing.ContextRot;

namespace LongContext.Gateway.Routing;

/// <summary>A context-rot curve as stored in config/context-rot/NAME.json (and written by <c>calibrate</c>).</summary>
internal sealed record ContextRotFile
{
    public string Name { get; init; } = "";

    /// <summary>Where the recall points come from.</summary>
    public string Source { get; init; } = "";

    /// <summary>Relative recall lost at mid-depth compared with the edges.</summary>
    public double MiddleDip { get; init; }

    public string? MiddleDipSource { get; init; }

    public List<ContextRotFilePoint> Points { get; init; } = [];

    /// <summary>Calibration only: how well the fit predicted held-out cells.</summary>
    public ContextRotFitReport? Fit { get; init; }
}

internal sealed record ContextRotFilePoint(long Tokens, double Recall);

internal sealed record ContextRotFitReport(int Samples, int Cells, int HeldOutCells, double? HeldOutMeanAbsoluteError, double? HeldOutRootMeanSquareError);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContextRotFile))]
internal sealed partial class ContextRotJsonContext : JsonSerializerContext;

/// <summary>Reads and writes curve files; a malformed file stops the gateway with the file and field named.</summary>
internal static class ContextRotFiles
{
    public static Dictionary<string, ContextRotCurve> LoadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new GatewayStartupException($"Routing:ContextRotDirectory '{directory}' does not exist.");
        }

        var curves = new Dictionary<string, ContextRotCurve>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var curve = Load(path);
            curves[curve.Name] = curve;
        }

        return curves;
    }

    public static ContextRotCurve Load(string path)
    {
        ContextRotFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllText(path), ContextRotJsonContext.Default.ContextRotFile);
        }
        catch (JsonException e)
        {
            throw new GatewayStartupException($"Context-rot curve {path} is not valid JSON: {e.Message}");
        }

        var stem = Path.GetFileNameWithoutExtension(path);
        var problem = file is null ? "is empty" : Problem(file, stem);
        if (problem is not null)
        {
            throw new GatewayStartupException($"Context-rot curve {path} {problem}");
        }

        return new ContextRotCurve
        {
            Name = stem,
            Source = file!.Source,
            MiddleDip = file.MiddleDip,
            Points = [.. file.Points.Select(p => new RecallPoint(p.Tokens, p.Recall))],
        };
    }

    public static string Serialize(ContextRotFile file) => JsonSerializer.Serialize(file, ContextRotJsonContext.Default.ContextRotFile);

    private static string? Problem(ContextRotFile file, string stem)
    {
        if (!string.IsNullOrEmpty(file.Name) && file.Name != stem)
        {
            return $"has Name '{file.Name}', but curves are named by their file: expected '{stem}'.";
        }

        if (string.IsNullOrWhiteSpace(file.Source))
        {
            return "has no Source: say where the numbers come from (a paper, a benchmark, a calibration run).";
        }

        if (file.MiddleDip is < 0 or >= 1)
        {
            return $"has MiddleDip {file.MiddleDip}; it must be in [0, 1).";
        }

        if (file.Points.Count == 0)
        {
            return "has no Points.";
        }

        for (var i = 0; i < file.Points.Count; i++)
        {
            var point = file.Points[i];
            if (point.Tokens < 1)
            {
                return $"has Points[{i}].Tokens {point.Tokens}; it must be positive.";
            }

            if (point.Recall is < 0 or > 1)
            {
                return $"has Points[{i}].Recall {point.Recall}; it must be in [0, 1].";
            }

            if (i > 0 && point.Tokens <= file.Points[i - 1].Tokens)
            {
                return $"has Points[{i}].Tokens {point.Tokens} not above Points[{i - 1}].Tokens; list points by increasing length.";
            }
        }

        return null;
    }
}
