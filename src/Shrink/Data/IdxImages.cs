namespace Shrink.Data;

/// <summary>
/// Images read from an IDX file: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Cols"/>
/// pixels, stored row-major in <see cref="Pixels"/> as float32 scaled from [0,255] to [0,1].
/// </summary>
public sealed record IdxImages(int Count, int Rows, int Cols, float[] Pixels);
