using Shrink.Ir;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// Shape and data-movement ops. Shape values are int64 tensors; chains over constants are folded when
/// the executor compiles, so only what depends on the batch runs per step.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterShape()
    {
        Add("Constant", ConstantOp);
        Add("Shape", ctx =>
        {
            long start = ctx.Int("start", 0), end = ctx.Int("end", long.MaxValue);
            int x = ctx.In(0), y = ctx.Out(0);
            return s =>
            {
                var shape = s[x]!.shape;
                long r = shape.Length, from = Math.Clamp(Axis(start, r), 0, r), to = Math.Clamp(end < 0 ? end + r : Math.Min(end, r), 0, r);
                s[y] = torch.tensor(shape[(int)from..(int)Math.Max(from, to)], ScalarType.Int64);
            };
        });
        Add("Size", ctx =>
        {
            int x = ctx.In(0), y = ctx.Out(0);
            return s => s[y] = torch.tensor(s[x]!.numel(), ScalarType.Int64);
        });
        Add("Reshape", Reshape);
        Add("Flatten", ctx =>
        {
            var axis = ctx.Int("axis", 1);
            int x = ctx.In(0), y = ctx.Out(0);
            return s =>
            {
                var input = s[x]!;
                var a = Axis(axis, input.dim());
                s[y] = a == 1 && input.dim() >= 2 ? input.flatten(1)
                    : input.reshape(input.shape.Take((int)a).Aggregate(1L, (p, d) => p * d), -1);
            };
        });
        Add("Transpose", ctx =>
        {
            var perm = ctx.Ints("perm");
            int x = ctx.In(0), y = ctx.Out(0);
            return s =>
            {
                var input = s[x]!;
                s[y] = input.permute(perm ?? Enumerable.Range(0, (int)input.dim()).Reverse().Select(i => (long)i).ToArray());
            };
        });
        Add("Concat", ctx =>
        {
            var axis = ctx.Int("axis", 0);
            var inputs = ctx.Ins();
            var y = ctx.Out(0);
            return s =>
            {
                var parts = new Tensor[inputs.Length];
                for (var i = 0; i < parts.Length; i++) parts[i] = s[inputs[i]]!;
                s[y] = torch.cat(parts, Axis(axis, parts[0].dim()));
            };
        });
        Add("Split", Split);
        Add("Slice", Slice);
        Add("Gather", Gather);
        Add("Unsqueeze", ctx => Axes(ctx, unsqueeze: true));
        Add("Squeeze", ctx => Axes(ctx, unsqueeze: false));
        Add("Cast", ctx =>
        {
            var to = (DataType)ctx.Int("to", 0);
            var type = TorchTensors.ScalarTypeOf(to) ?? throw ctx.Unsupported($"cast to {to}");
            return Unary(ctx, x => x.to(type));
        });
        Add("ConstantOfShape", ctx =>
        {
            var value = ctx.Node.GetTensor("value");
            var type = value is null ? ScalarType.Float32 : TorchTensors.ScalarTypeOf(value.DataType) ?? throw ctx.Unsupported($"value of type {value.DataType}");
            var fill = ctx.Scalar(value?.ToDoubles()[0] ?? 0.0);
            int x = ctx.In(0), y = ctx.Out(0);
            return s => s[y] = torch.full(Longs(s[x]!), fill, type);
        });
        Add("Expand", ctx =>
        {
            int x = ctx.In(0), shapeSlot = ctx.In(1), y = ctx.Out(0);
            return s =>
            {
                var input = s[x]!;
                var target = Longs(s[shapeSlot]!);
                var rank = Math.Max(target.Length, input.dim());
                var shape = new long[rank];
                for (var i = 0; i < rank; i++)
                {
                    var a = i - (rank - input.dim()) is var ia && ia >= 0 ? input.shape[ia] : 1;
                    var b = i - (rank - target.Length) is var ib && ib >= 0 ? target[ib] : 1;
                    shape[i] = a == 1 ? b : a;
                }
                s[y] = input.expand(shape);
            };
        });
        Add("Range", ctx =>
        {
            int start = ctx.In(0), limit = ctx.In(1), delta = ctx.In(2), y = ctx.Out(0);
            return s =>
            {
                var floating = s[start]!.is_floating_point();
                Scalar Read(int slot) => floating ? s[slot]!.ToDouble().ToScalar() : s[slot]!.ToInt64().ToScalar();
                using Scalar from = Read(start), to = Read(limit), step = Read(delta);
                s[y] = torch.arange(from, to, step, s[start]!.dtype);
            };
        });
        Add("Tile", ctx =>
        {
            int x = ctx.In(0), repeats = ctx.In(1), y = ctx.Out(0);
            return s => s[y] = s[x]!.tile(Longs(s[repeats]!));
        });
    }

    /// <summary>The values of a small int64 tensor.</summary>
    internal static long[] Longs(Tensor t) => t.dtype == ScalarType.Int64 ? t.data<long>().ToArray() : t.to(ScalarType.Int64).data<long>().ToArray();

    private static Kernel ConstantOp(KernelContext ctx)
    {
        var node = ctx.Node;
        Ir.Tensor value = node.GetTensor("value")
            ?? (node.GetAttribute("value_float") is not null ? Ir.Tensor.FromFloats("", Array.Empty<long>(), new[] { ctx.Float("value_float", 0) })
            : node.GetFloats("value_floats") is { } fs ? Ir.Tensor.FromFloats("", new long[] { fs.Length }, fs)
            : node.GetAttribute("value_int") is not null ? Ir.Tensor.FromInt64s("", Array.Empty<long>(), new[] { ctx.Int("value_int", 0) })
            : node.GetInts("value_ints") is { } ints ? Ir.Tensor.FromInt64s("", new long[] { ints.Length }, ints)
            : throw ctx.Unsupported("a Constant without value, value_float(s) or value_int(s)"));
        var y = ctx.Out(0);
        if (TorchTensors.ScalarTypeOf(value.DataType) is null) throw ctx.Unsupported($"a {value.DataType} constant");
        return s => s[y] = TorchTensors.FromIr(value);
    }

    private static Kernel Reshape(KernelContext ctx)
    {
        var allowZero = ctx.Int("allowzero", 0) != 0;
        var constant = ctx.Opset >= 5 ? ctx.ConstantInts(1) : ctx.Ints("shape");
        int x = ctx.In(0), shapeSlot = ctx.In(1), y = ctx.Out(0);
        var copies = constant is not null && !allowZero && constant.Contains(0);
        return s =>
        {
            var input = s[x]!;
            var shape = constant ?? Longs(s[shapeSlot]!);
            if (!allowZero && (constant is null || copies))
            {
                shape = (long[])shape.Clone();
                for (var i = 0; i < shape.Length; i++)
                    if (shape[i] == 0) shape[i] = input.shape[i];
            }
            s[y] = input.reshape(shape);
        };
    }

    private static Kernel Split(KernelContext ctx)
    {
        var axis = ctx.Int("axis", 0);
        var sizes = ctx.Opset >= 13 ? ctx.ConstantInts(1) : ctx.Ints("split");
        var sizeSlot = ctx.Opset >= 13 && sizes is null ? ctx.In(1) : -1;
        var outputs = Enumerable.Range(0, ctx.Node.Outputs.Count).Select(ctx.Out).ToArray();
        var parts = ctx.Opset >= 18 && ctx.Node.GetAttribute("num_outputs") is not null ? ctx.Int("num_outputs", outputs.Length) : outputs.Length;
        int x = ctx.In(0);
        return s =>
        {
            var input = s[x]!;
            var a = Axis(axis, input.dim());
            var split = sizes ?? (sizeSlot >= 0 ? Longs(s[sizeSlot]!) : null);
            Tensor[] pieces;
            if (split is not null) pieces = input.split(split, a);
            else
            {
                var chunk = (input.shape[a] + parts - 1) / parts;
                pieces = input.split(chunk, a);
            }
            if (pieces.Length != outputs.Length)
                throw new ArgumentException($"Split made {pieces.Length} pieces for {outputs.Length} outputs");
            for (var i = 0; i < outputs.Length; i++)
                if (outputs[i] >= 0) s[outputs[i]] = pieces[i];
        };
    }

    private static Kernel Slice(KernelContext ctx)
    {
        int x = ctx.In(0), y = ctx.Out(0);
        long[]? Known(int input, string attr) => ctx.Opset >= 10 ? ctx.ConstantInts(input) : ctx.Ints(attr);
        long[]? starts = Known(1, "starts"), ends = Known(2, "ends"), axes = Known(3, "axes"), steps = ctx.Opset >= 10 ? ctx.ConstantInts(4) : null;
        int startSlot = ctx.Opset >= 10 ? ctx.In(1) : -1, endSlot = ctx.Opset >= 10 ? ctx.In(2) : -1,
            axesSlot = ctx.Opset >= 10 ? ctx.In(3) : -1, stepSlot = ctx.Opset >= 10 ? ctx.In(4) : -1;
        return s =>
        {
            var t = s[x]!;
            var st = starts ?? Longs(s[startSlot]!);
            var en = ends ?? Longs(s[endSlot]!);
            var ax = axes ?? (axesSlot >= 0 ? Longs(s[axesSlot]!) : Enumerable.Range(0, st.Length).Select(i => (long)i).ToArray());
            var sp = steps ?? (stepSlot >= 0 ? Longs(s[stepSlot]!) : null);
            for (var i = 0; i < st.Length; i++)
            {
                var a = Axis(ax[i], t.dim());
                var dim = t.shape[a];
                var step = sp?[i] ?? 1;
                if (step == 0) throw new ArgumentException("Slice step 0");
                long Clamp(long v, long lo, long hi) => Math.Clamp(v < 0 ? v + dim : v, lo, hi);
                if (step > 0)
                {
                    long from = Clamp(st[i], 0, dim), to = Clamp(en[i], 0, dim);
                    t = t.slice(a, from, Math.Max(from, to), step);
                }
                else
                {
                    long from = Clamp(st[i], -1, dim - 1), to = Clamp(en[i], -1, dim - 1);
                    using Scalar first = from, last = to, stride = step;
                    var index = from > to ? torch.arange(first, last, stride, ScalarType.Int64) : torch.empty(0, ScalarType.Int64);
                    t = t.index_select(a, index);
                }
            }
            s[y] = t;
        };
    }

    private static Kernel Gather(KernelContext ctx)
    {
        var axis = ctx.Int("axis", 0);
        int data = ctx.In(0), indices = ctx.In(1), y = ctx.Out(0);
        var constant = ctx.ConstantInts(1);
        var scalar = ctx.Constant(1) is { Dims.Length: 0 };
        Scalar zero = ctx.Scalar(0L), one = ctx.Scalar(1L);
        return s =>
        {
            var t = s[data]!;
            var a = Axis(axis, t.dim());
            var dim = t.shape[a];
            if (scalar)
            {
                var i = constant![0];
                s[y] = t.select(a, i < 0 ? i + dim : i);
                return;
            }
            var index = s[indices]!;
            if (index.dtype != ScalarType.Int64) index = index.to(ScalarType.Int64);
            using var size = dim.ToScalar();
            index = torch.where(index.lt(zero), index.add(size, one), index);
            var picked = t.index_select(a, index.flatten());
            var shape = t.shape.Take((int)a).Concat(index.shape).Concat(t.shape.Skip((int)a + 1)).ToArray();
            s[y] = picked.reshape(shape);
        };
    }

    private static Kernel Axes(KernelContext ctx, bool unsqueeze)
    {
        var axes = ctx.Opset >= 13 ? ctx.ConstantInts(1) : ctx.Ints("axes");
        var axesSlot = ctx.Opset >= 13 && axes is null ? ctx.In(1) : -1;
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var t = s[x]!;
            var list = axes ?? (axesSlot >= 0 ? Longs(s[axesSlot]!) : null);
            if (unsqueeze)
            {
                var rank = t.dim() + list!.Length;
                foreach (var a in list.Select(a => Axis(a, rank)).Order()) t = t.unsqueeze(a);
            }
            else if (list is null || list.Length == 0)
            {
                var keep = t.shape.Where(d => d != 1).ToArray();
                t = t.reshape(keep);
            }
            else
            {
                var rank = t.dim();
                foreach (var a in list.Select(a => Axis(a, rank)).OrderDescending()) t = t.squeeze(a);
            }
            s[y] = t;
        };
    }
}
