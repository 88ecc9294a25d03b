using Shrink.Cli;

return ShrinkApp.Run(args, Console.Out, Console.Error);
