using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Shrink.Text;

namespace Shrink.Cli;

/// <summary>What every command shares: output streams, a Spectre console on stdout, JSON output, error handling.</summary>
public sealed class CliContext
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public CliContext(TextWriter stdout, TextWriter stderr)
    {
        Out = stdout;
        Err = stderr;
        var interactive = ReferenceEquals(stdout, System.Console.Out) && !System.Console.IsOutputRedirected;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive) Console.Profile.Width = 120;
    }

    public TextWriter Out { get; }
    public TextWriter Err { get; }

    /// <summary>Tables and rich text go here (plain text when output is redirected).</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Writes one JSON document on stdout.</summary>
    public void WriteJson(object value) => Out.WriteLine(JsonSerializer.Serialize(value, value.GetType(), JsonOptions));

    /// <summary>A note for the user on stderr (so --json output on stdout stays one document).</summary>
    public void Note(string message) => Err.WriteLine(message);

    /// <summary>
    /// The session a technique runs in for this command: the training session the command opened
    /// (<see cref="RunDirCli.Open"/>: run directory, Ctrl-C, progress), else one whose notes go to stderr.
    /// </summary>
    public Techniques.TechniqueSession Session() => OpenSession?.Session ?? new() { Notes = Note, Naming = Naming, Verbosity = Verbosity };

    /// <summary>How much the notes of the running command say (its --verbosity, where it has one).</summary>
    public Passes.NotesLevel Verbosity { get; set; }

    /// <summary>The training session the command holds open, if any (set and cleared by <see cref="CliSession"/>).</summary>
    internal CliSession? OpenSession { get; set; }

    private readonly Dictionary<Command, Dictionary<string, string>> _flags = new();

    /// <summary>
    /// Properties that every command setting them sets by a flag of another name: the first of its flags the command
    /// has names the property (the latency comparison's batch sizes are --bench-batch where a command has it).
    /// </summary>
    private static readonly (string Property, string[] Flags)[] CommonFlags =
    [
        ("Output", ["--out"]),
        ("RunDirectory", ["--run-dir"]),
        ("DimValues", ["--dim"]),
        ("Batches", ["--bench-batch", "--batch"]),
        ("LowBitStorage", ["--storage"]),
        ("LayerBits", ["--layers"]),
        .. DataCli.PropertyFlags,
    ];

    /// <summary>The command line being run (set by <see cref="Guard"/> while its body runs).</summary>
    private ParseResult? _running;

    /// <summary>
    /// Names the flags of <paramref name="command"/> that set an options-record property under another name
    /// (property → flag, e.g. "LearningRate" → "--lr"); a property whose kebab-case name is a flag of the command
    /// ("ChannelMultiple" → "--channel-multiple") needs no entry, nor one of <see cref="CommonFlags"/>.
    /// </summary>
    public Command Flags(Command command, params (string Property, string Flag)[] aliases)
    {
        var map = _flags.TryGetValue(command, out var m) ? m : _flags[command] = new();
        foreach (var (property, flag) in aliases) map[property] = flag;
        return command;
    }

    /// <summary>
    /// How the running command names an option in a library message (<see cref="OptionText"/>): the flag that sets it,
    /// else the library's words.
    /// </summary>
    public OptionNaming Naming => option => (_running is { } parsed ? FlagFor(parsed, option.Property) : null) ?? option.Words;

    /// <summary>The flag of the running command that sets <paramref name="option"/>, or null (then the library's words are printed).</summary>
    private string? FlagFor(ParseResult parsed, string option)
    {
        var command = parsed.CommandResult.Command;
        bool Has(string flag) => command.Options.Any(o => o.Name == flag || o.Aliases.Contains(flag));
        if (_flags.TryGetValue(command, out var map) && map.TryGetValue(option, out var alias)) return alias;
        if (CommonFlags.FirstOrDefault(c => c.Property == option).Flags?.FirstOrDefault(Has) is { } common) return common;
        var kebab = "--" + OptionsException.Kebab(option);
        return Has(kebab) ? kebab : null;
    }

    /// <summary>
    /// Wraps a command body: user errors become one line on stderr and exit code 2; interrupted training
    /// (Ctrl-C) one line naming its checkpoint and exit code 130; anything else is an internal error, exit code 1.
    /// </summary>
    public Func<ParseResult, int> Guard(Func<ParseResult, int> body) => parsed =>
    {
        _running = parsed;
        try { return body(parsed); }
        catch (Training.TrainingInterruptedException e)
        {
            Err.WriteLine(e.CheckpointPath is { } checkpoint
                ? $"interrupted: checkpoint written to {checkpoint}; continue with the same command and --resume"
                : "interrupted: no checkpoint was written (the run had no run directory)");
            return ShrinkApp.Interrupted;
        }
        catch (ShrinkUserException e)
        {
            // The options the library names (OptionsException.For, OptionText) are printed as the flags that set them.
            Err.WriteLine($"error: {Message.OneLine(e.Wording.Render(Naming))}");
            return ShrinkApp.BadInput;
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            // The machine refused a file operation (disk full, read-only, permissions): not a bug.
            Err.WriteLine($"error: {Message.OneLine(EnvironmentFailureException.From("complete the command", e).Message)}");
            return ShrinkApp.BadInput;
        }
        catch (Exception e)
        {
            Err.WriteLine($"internal error: {e.GetType().Name}: {Message.OneLine(e.Message)}");
            Err.WriteLine("this is a bug in Shrink; please report it with the command line that caused it");
            if (Environment.GetEnvironmentVariable("SHRINK_DEBUG") == "1") Err.WriteLine(e);
            return ShrinkApp.InternalError;
        }
        finally { _running = null; }
    };
}
