package dev.nann.cli;

import dev.nann.scorer.ModelCheck;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./nann check-model --model DIR}: is this directory a model serving can load and walk with? */
@Command(name = "check-model", mixinStandardHelpOptions = true,
    description = "Checks a model directory against the model contract (docs/model-contract.md) and scores random "
        + "items with it: finite, item-dependent, batch-independent scores; then measures the native memory ONNX "
        + "Runtime takes for it. Exit code 0 when serving can use it.")
public final class CheckModelCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "the model directory (model.json, user.onnx, score.onnx)")
  Path model;

  @Option(names = "--items", description = "random items scored (default: ${DEFAULT-VALUE})")
  int items = 2000;

  @Option(names = "--seed", description = "seed of the random items and histories (default: ${DEFAULT-VALUE})")
  long seed = 1;

  @Option(names = "--walkers", description = "walker threads of the serving TaskManager the memory advice is for "
      + "(engine.walker-threads; default: this machine's cores, as engine.walker-threads=0 takes them)")
  Integer walkers;

  @Option(names = "--no-memory", description = "skip measuring the native memory ONNX Runtime takes for the model "
      + "(a child JVM loading it again)")
  boolean noMemory;

  @Override
  public Integer call() throws InterruptedException {
    if (items < 1) {
      throw new IllegalArgumentException("--items must be >= 1");
    }
    if (walkers != null && walkers < 1) {
      throw new IllegalArgumentException("--walkers must be >= 1");
    }
    ModelCheck.Report r = ModelCheck.run(model, items, seed);
    r.passed().forEach(line -> System.out.println("ok       " + line));
    r.warnings().forEach(line -> System.out.println("warning  " + line));
    r.problems().forEach(line -> System.out.println("PROBLEM  " + line));
    if (r.itemsPerSecond() > 0) {
      // every request scores the whole fresh set: what that costs depends on the model, not on the catalogue
      int fresh = dev.nann.engine.EngineConfig.DEFAULT_FRESH_MAX_ITEMS;
      System.out.println(String.format(java.util.Locale.ROOT, "fresh    each 1,000 catalogue changes not yet in a "
          + "snapshot add about %.2f ms of scoring to every request with this model (a full fresh set, fresh.max-items = "
          + "%,d by default, %.0f ms): lower fresh.max-items if that is too much (docs/operations.md, Fresh set growing)",
          1000 / r.itemsPerSecond() * 1e3, fresh, fresh / r.itemsPerSecond() * 1e3));
    }
    if (r.ok() && !noMemory) {
      try {
        ModelMemory.measure(model).describe(walkers != null ? walkers
            : Runtime.getRuntime().availableProcessors()).forEach(line -> System.out.println("memory   " + line));
      } catch (java.io.IOException | RuntimeException e) {
        System.out.println("memory   not measured here: " + e.getMessage());
      }
    }
    System.out.println(r.ok() ? model + ": serving can use this model" : model + ": serving would refuse or mis-serve this model");
    return r.ok() ? 0 : 1;
  }
}
