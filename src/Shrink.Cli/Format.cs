namespace Shrink.Cli;

/// <summary>Human-readable numbers for tables.</summary>
internal static class Format
{
    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:F1} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):F2} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):F2} GiB",
    };

    public static string Macs(long macs, bool complete) => macs == 0 && !complete ? "unknown" : (macs switch
    {
        < 1_000_000 => macs.ToString("N0"),
        < 1_000_000_000 => $"{macs / 1e6:F2}M",
        _ => $"{macs / 1e9:F2}G",
    }) + (complete ? "" : " (some layers unknown)");

    public static string Ms(double ms) => ms < 10 ? $"{ms:F3}" : $"{ms:F2}";
}
