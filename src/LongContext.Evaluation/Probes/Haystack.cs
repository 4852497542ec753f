using System.Text;

namespace LongContext.Evaluation.Probes;

/// <summary>
/// The text needles are hidden in: the user's own files (a directory of *.txt, read in name order
/// and repeated as needed, like the Paul Graham essays of the original test) or a built-in filler
/// generated from a seed — varied sentences, so retrieval cannot match the needle by repetition alone.
/// </summary>
public sealed class Haystack
{
    private static readonly string[] Subjects = ["The committee", "A traveller", "The old mill", "Our neighbour", "The river", "A small bakery", "The orchestra", "The lighthouse", "A careful gardener", "The night train"];
    private static readonly string[] Verbs = ["described", "remembered", "repaired", "painted", "counted", "followed", "measured", "discussed", "visited", "photographed"];
    private static readonly string[] Objects = ["the northern bridge", "a field of barley", "the autumn market", "a quiet harbour", "the stone staircase", "an empty warehouse", "the morning fog", "a row of chestnut trees", "the town archive", "a weathered signpost"];
    private static readonly string[] Endings = ["before noon", "with great patience", "for the third time", "after the storm", "in the spring", "without a word", "near the old church", "late in the evening", "as the bells rang", "during the fair"];

    private readonly string _text;

    private Haystack(string text, string source) => (_text, Source) = (text, source);

    /// <summary>Where the text comes from, for reports.</summary>
    public string Source { get; }

    /// <summary>Seeded filler of about <paramref name="characters"/> characters.</summary>
    public static Haystack Generated(int seed, int characters = 1 << 16)
    {
        var random = new Random(seed);
        var text = new StringBuilder(characters + 200);
        while (text.Length < characters)
        {
            text.Append(Subjects[random.Next(Subjects.Length)]).Append(' ').Append(Verbs[random.Next(Verbs.Length)]).Append(' ')
                .Append(Objects[random.Next(Objects.Length)]).Append(' ').Append(Endings[random.Next(Endings.Length)]).Append(". ");
            if (random.Next(6) == 0)
            {
                text.Append("\n\n");
            }
        }

        return new Haystack(text.ToString(), $"generated filler (seed {seed})");
    }

    /// <summary>The *.txt files of <paramref name="directory"/>, in name order.</summary>
    public static Haystack FromDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The haystack directory {directory} does not exist.");
        }

        var files = Directory.GetFiles(directory, "*.txt").Order(StringComparer.Ordinal).ToList();
        var text = string.Join("\n\n", files.Select(File.ReadAllText)).Trim();
        return text.Length == 0
            ? throw new InvalidDataException($"The haystack directory {directory} has no text in *.txt files.")
            : new Haystack(text + "\n\n", $"{files.Count} file(s) in {directory}");
    }

    /// <summary>At least <paramref name="characters"/> characters of the haystack, repeating it when it is shorter.</summary>
    public string Take(int characters)
    {
        var text = new StringBuilder(characters + _text.Length);
        while (text.Length < characters)
        {
            text.Append(_text);
        }

        return text.ToString();
    }
}
