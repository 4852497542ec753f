using System.Text;

namespace LongContext.Backend.Training;

/// <summary>A generated probe: the prompt, the expected answer, and where the needle sits.</summary>
public sealed record NeedleProbe(string Kind, string Prompt, string Answer, double Depth);

/// <summary>
/// The needle tasks the reference model is trained and measured on: passkey retrieval in the
/// landmark-attention format and RULER's "special magic number" sentences, hidden at a chosen
/// depth of repetitive filler. Deterministic for a given <see cref="Random"/>.
/// </summary>
public static class NeedleTasks
{
    public const string Filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    private const string PasskeyIntro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there. ";

    private static readonly string[] Adjectives = ["quiet", "amber", "brisk", "dusty", "gentle", "hollow", "lively", "rapid", "silver", "tidy", "vivid", "wooden"];
    private static readonly string[] Nouns = ["harbor", "lantern", "meadow", "orchard", "pelican", "quarry", "ribbon", "saddle", "thistle", "violin", "walnut", "zephyr"];

    /// <summary>A passkey probe of exactly <paramref name="length"/> bytes of prompt (ASCII), needle at the depth (0 = start, 1 = end).</summary>
    public static NeedleProbe Passkey(Random random, int length, double depth)
    {
        var key = random.Next(10_000, 100_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var needle = $" The pass key is {key}. Remember it. {key} is the pass key. ";
        const string question = " What is the pass key? The pass key is";
        return new NeedleProbe("passkey", Assemble(PasskeyIntro, needle, question, length, depth), " " + key, depth);
    }

    /// <summary>A RULER-style single-needle probe: "One of the special magic numbers for {key} is: {value}."</summary>
    public static NeedleProbe MagicNumber(Random random, int length, double depth)
    {
        var key = $"{Adjectives[random.Next(Adjectives.Length)]}-{Nouns[random.Next(Nouns.Length)]}";
        var value = random.Next(1_000_000, 10_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var needle = $" One of the special magic numbers for {key} is: {value}. ";
        var question = $" What is the special magic number for {key} mentioned in the provided text? The special magic number for {key} mentioned in the provided text is";
        return new NeedleProbe("magic_number", Assemble("", needle, question, length, depth), " " + value, depth);
    }

    /// <summary>intro + filler + needle + filler + question, the filler cut so the prompt has exactly <paramref name="length"/> characters.</summary>
    private static string Assemble(string intro, string needle, string question, int length, double depth)
    {
        var filler = length - intro.Length - needle.Length - question.Length;
        if (filler < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A probe needs at least {intro.Length + needle.Length + question.Length} characters.");
        }

        var before = (int)Math.Round(filler * Math.Clamp(depth, 0, 1));
        return new StringBuilder(length).Append(intro).Append(Repeat(before)).Append(needle).Append(Repeat(filler - before)).Append(question).ToString();
    }

    private static string Repeat(int characters)
    {
        var text = new StringBuilder(characters + Filler.Length);
        while (text.Length < characters)
        {
            text.Append(Filler);
        }

        return text.ToString(0, characters);
    }
}
