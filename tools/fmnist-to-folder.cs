#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// Writes Fashion-MNIST (or MNIST, or the subset embedded in Shrink) as an image folder that `--data` and torchvision's
// ImageFolder read: OUT/train/<label>-<class>/NNNNN.png and OUT/val/..., at a chosen size and channel count.
//
//   dotnet run tools/fmnist-to-folder.cs -- --out /tmp/fmnist32 [--size 32] [--channels 3] [--data DIR|embedded]
//                                         [--format png|jpeg|webp] [--limit N]
//
// --data is found as every command finds it (SHRINK_DATA, Debian's dataset-fashion-mnist, else the embedded subset);
// --limit writes the first N images of each split. Runs offline.
using Shrink.Data;
using Shrink.Data.Images;

var options = new Dictionary<string, string>();
for (var i = 0; i < args.Length; i++)
{
    if (!args[i].StartsWith("--") || i + 1 >= args.Length) return Usage($"unexpected '{args[i]}'");
    options[args[i][2..]] = args[++i];
}
if (options.Keys.Except(["out", "size", "channels", "data", "format", "limit"]).FirstOrDefault() is { } unknown) return Usage($"unknown option --{unknown}");
if (!options.TryGetValue("out", out var output)) return Usage("--out DIR is required");
if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any()) return Usage($"'{output}' is not empty; give a new or empty folder");
var size = int.Parse(options.GetValueOrDefault("size", "32"));
var channels = int.Parse(options.GetValueOrDefault("channels", "3"));
int? limit = options.TryGetValue("limit", out var l) ? int.Parse(l) : null;
if (!Enum.TryParse<ImageFormat>(options.GetValueOrDefault("format", "png"), ignoreCase: true, out var format)) return Usage("--format is png, jpeg or webp");
if (size < 1 || channels is not (1 or 3)) return Usage("--size must be 1 or more and --channels 1 or 3");

try
{
    var data = FashionMnist.Load(options.GetValueOrDefault("data"));
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var train = ImageFolderWriter.Write(data.Train, output, "train", size, channels, FashionMnist.ClassNames, format, limit);
    var val = ImageFolderWriter.Write(data.Test, output, "val", size, channels, FashionMnist.ClassNames, format, limit);
    Console.WriteLine($"wrote {train} training and {val} validation images of {channels}×{size}×{size} ({format}) from {data.Train.Name} to {output} in {watch.Elapsed.TotalSeconds:F1} s");
    return 0;
}
catch (Shrink.ShrinkUserException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static int Usage(string problem)
{
    Console.Error.WriteLine($"error: {problem}");
    Console.Error.WriteLine("usage: dotnet run tools/fmnist-to-folder.cs -- --out DIR [--size 32] [--channels 3] [--data DIR|embedded] [--format png|jpeg|webp] [--limit N]");
    return 2;
}
