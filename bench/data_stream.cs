#:project ../src/Shrink/Shrink.csproj
#:property PublishAot=false

// The programs of bench/data_stream.sh (run that script, not this file):
//   jpegs DIR COUNT SIDE            COUNT synthetic 3×SIDE×SIDE JPEGs (q90) in 10 class folders
//   stream DIR SIDE BATCH WORKERS   one pass over DIR through decode and preprocessing to 3×SIDE×SIDE; prints a JSON line
//   memory FOLDER NPZ               FOLDER read once (as --data reads it) and written as NPZ (x: float32 [N,3,32,32], labels)
//   model OUT.onnx                  a small untrained CNN taking [N,3,32,32] (conv-BN-ReLU-pool ×2, fc 10)
using System.Diagnostics;
using System.IO.Compression;
using Shrink.Builder;
using Shrink.Data;
using Shrink.Data.Images;
using Shrink.Data.Sources;
using Shrink.Runtime;

return args switch
{
    ["jpegs", var dir, var count, var side] => Jpegs(dir, int.Parse(count), int.Parse(side)),
    ["stream", var dir, var side, var batch, var workers] => Stream(dir, int.Parse(side), int.Parse(batch), int.Parse(workers)),
    ["memory", var folder, var npz] => Memory(folder, npz),
    ["model", var path] => CnnModel(path),
    _ => Usage(),
};

static int Jpegs(string dir, int count, int side)
{
    var watch = Stopwatch.StartNew();
    Parallel.For(0, count, i =>
    {
        // smooth colour fields with a per-image phase, plus a little hash noise: JPEGs of a realistic size (~20 KB at 256²)
        var (fx, fy, phase) = (0.02 + i % 7 * 0.005, 0.015 + i % 5 * 0.004, i * 0.37);
        var pixels = new byte[side * side * 3];
        for (var y = 0; y < side; y++)
            for (var x = 0; x < side; x++)
                for (var c = 0; c < 3; c++)
                {
                    var v = 128 + 90 * Math.Sin(fx * x * (c + 1) + fy * y + phase + c) + ((x * 73856093 ^ y * 19349663 ^ i) & 15);
                    pixels[(y * side + x) * 3 + c] = (byte)Math.Clamp(v, 0, 255);
                }
        ImageEncoder.Write(Path.Combine(dir, $"class{i % 10}", $"{i:D6}.jpg"), pixels, side, side, 3, ImageFormat.Jpeg, 90);
    });
    var bytes = Directory.EnumerateFiles(dir, "*.jpg", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
    Console.Error.WriteLine($"wrote {count:N0} JPEGs of 3×{side}×{side} ({bytes / 1e6:F0} MB) in {watch.Elapsed.TotalSeconds:F0} s");
    return 0;
}

static int Stream(string dir, int side, int batch, int workers)
{
    var source = ImageFolderSource.Open(dir, new DataOptions { Workers = workers, Image = new ImageOptions { Size = [side], Channels = 3 } });
    var watch = Stopwatch.StartNew();
    double checksum = 0;
    foreach (var b in source.Batches(batch))
        checksum += ((float[])b.Inputs[0].Data)[0];
    var seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"{{\"images\": {source.Count}, \"seconds\": {seconds:F2}, \"images_per_second\": {source.Count / seconds:F1}, \"batch\": {batch}, \"workers\": {workers}, \"shape\": \"{string.Join("x", source.Inputs[0].SampleShape)}\", \"checksum\": {checksum:F3}}}");
    return 0;
}

static int Memory(string folder, string npz)
{
    var source = ImageFolderSource.Open(folder);
    var batch = source.Read(Enumerable.Range(0, source.Count).ToArray());
    var x = (float[])batch.Inputs[0].Data;
    using var zip = ZipFile.Open(npz, ZipArchiveMode.Create);
    using (var s = zip.CreateEntry("x.npy", CompressionLevel.NoCompression).Open())
        NpyFile.Write(s, NpyArray.FromFloat32(x, [batch.Count, .. source.Inputs[0].SampleShape.Select(d => (long)d)]));
    using (var s = zip.CreateEntry("labels.npy", CompressionLevel.NoCompression).Open())
        NpyFile.Write(s, NpyArray.FromInt64(batch.Labels!.Select(l => (long)l).ToArray(), [batch.Count]));
    Console.Error.WriteLine($"wrote {source.Describe()} to {npz}");
    return 0;
}

static int CnnModel(string path)
{
    var b = new NetworkBuilder("cnn32", seed: 0);
    var x = b.Input("input", 3, 32, 32);
    x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 16, 3, padding: 1, bias: false))), 2, 2);
    x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 32, 3, padding: 1, bias: false))), 2, 2);
    b.Output(b.Linear(b.Flatten(x), 10), "output");
    ModelSaver.Save(b.Build(), path);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: data_stream.cs jpegs DIR COUNT SIDE | stream DIR SIDE BATCH WORKERS | memory FOLDER NPZ | model OUT.onnx (run bench/data_stream.sh)");
    return 2;
}
