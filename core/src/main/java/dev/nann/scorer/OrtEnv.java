package dev.nann.scorer;

import ai.onnxruntime.OrtEnvironment;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process's one ONNX Runtime environment, created on a thread of its own with a stack sized to
 * the process's command line.
 *
 * <p>Why: on Linux, creating the environment runs ONNX Runtime's telemetry, which matches regular
 * expressions against the process's command line with GCC's {@code std::regex}, whose backtracking
 * recurses about once per character. On a thread with the JVM's default 1 MB stack, a command line
 * of 4 KB or more (a TaskManager's classpath and dynamic properties reach that easily) overflows it
 * and the whole JVM dies of SIGSEGV without an error report. ({@code ORT_DISABLE_TELEMETRY=1} in the
 * process's environment avoids that path too; creating the environment here does not depend on it.)
 *
 * <p>The first call also removes the copies of the runtime's libraries that ended processes left in
 * the temporary directory ({@link OrtLibraryCopies}). {@link #release} lets a runtime loaded by a
 * class loader that is going away (a Flink job's) go with it.
 */
public final class OrtEnv {
  private static final Logger LOG = LoggerFactory.getLogger(OrtEnv.class);
  /** The name of the class loader release hook that calls {@link #release} (one per class loader). */
  public static final String RELEASE_HOOK = "nann-onnxruntime-environment";
  /** Stack bytes reserved per command-line byte: about 3 times what the recursion was measured to take. */
  private static final long STACK_PER_BYTE = 1024;
  private static final long MIN_STACK = 16L << 20;
  private static final long MAX_STACK = 2L << 30;
  private static volatile OrtEnvironment env;
  /**
   * Why the runtime's classes could not be initialised (they cannot be a second time), or null:
   * each later call says so again.
   */
  private static volatile String failed;
  private static volatile Throwable failedCause;

  private OrtEnv() {}

  /**
   * The environment, created on first use (on a large-stack thread).
   *
   * @throws ScorerException if ONNX Runtime cannot be loaded in this process, saying why (the same
   *     reason on every later call)
   */
  public static OrtEnvironment get() {
    OrtEnvironment e = env;
    if (e == null) {
      synchronized (OrtEnv.class) {
        e = env;
        if (failed != null) {
          throw new ScorerException(failed, failedCause);
        }
        if (e == null) {
          // before the binding makes this process's own copy of the libraries
          OrtLibraryCopies.sweep(Path.of(System.getProperty("java.io.tmpdir")));
          try {
            e = createOnLargeStack(stackBytes(commandLineBytes()));
          } catch (LinkageError x) {   // the classes' initialisation failed: for good in this class loader
            failed = cannotLoad(x);
            failedCause = x;
            throw new ScorerException(failed, x);
          } catch (RuntimeException x) {   // e.g. the native environment not created: may work next time
            throw new ScorerException(cannotLoad(x), x);
          }
          env = e;
        }
      }
    }
    return e;
  }

  /** What went wrong loading the runtime, from the innermost cause, with what to check. */
  static String cannotLoad(Throwable x) {
    Throwable root = x;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String tmp = System.getProperty("java.io.tmpdir");
    String hint = root instanceof IOException
        ? "its Java binding copies the native libraries into java.io.tmpdir (" + tmp + "), which must exist and be "
            + "writable; or set the system property onnxruntime.native.path to a directory that holds them"
        : root instanceof UnsatisfiedLinkError
            ? "its native library does not load on this machine (the cause names what it lacks; a java.io.tmpdir ("
                + tmp + ") mounted noexec cannot load it either: point java.io.tmpdir or onnxruntime.native.path "
                + "elsewhere)"
            : "see the cause";
    return "ONNX Runtime cannot be loaded in this process: " + root + "; " + hint;
  }

  /**
   * Lets the runtime go with the class loader that loaded it, when that class loader is being
   * released (Flink calls this through a user-code class loader release hook when a job's tasks have
   * left the TaskManager). ONNX Runtime's Java binding registers a JVM shutdown hook that holds its
   * classes, so a job jar that carries the runtime kept every released class loader of the job, and
   * its own copy of the native library, on the TaskManager: each resubmission of the serving job kept
   * 18-36 MB of metaspace and 70 MB of resident memory more, until the metaspace ran out. The hook is
   * removed (not run).
   *
   * <p>Nothing is done when the runtime was loaded by the application class loader (Flink's
   * {@code lib/}, loaded parent-first, or a plain JVM): that runtime serves the whole process.
   *
   * @return whether the hook was removed
   */
  public static synchronized boolean release() {
    ClassLoader runtimeLoader = OrtEnvironment.class.getClassLoader();
    if (env == null || runtimeLoader == ClassLoader.getSystemClassLoader()
        || runtimeLoader == ClassLoader.getPlatformClassLoader()) {
      return false;
    }
    try {
      Class<?> hooksClass = Class.forName("java.lang.ApplicationShutdownHooks");
      Field field = hooksClass.getDeclaredField("hooks");
      field.setAccessible(true);
      List<Thread> hooks;
      synchronized (hooksClass) {
        Map<?, ?> registered = (Map<?, ?>) field.get(null);
        if (registered == null) {
          return false;   // the JVM is shutting down: the hooks are running
        }
        hooks = new ArrayList<>(registered.keySet().stream().map(Thread.class::cast).toList());
      }
      for (Thread hook : hooks) {
        Runnable task = taskOf(hook);
        if (task != null && task.getClass().getName().equals("ai.onnxruntime.OrtEnvironment$OrtEnvCloser")
            && task.getClass().getClassLoader() == runtimeLoader) {
          // removed, not run: a walker or model load of the job may still be finishing a native call,
          // and closing the environment under it could crash the TaskManager; the native library
          // goes when the class loader is collected, after the last of them
          Runtime.getRuntime().removeShutdownHook(hook);
          env = null;
          return true;
        }
      }
      LOG.warn("ONNX Runtime's shutdown hook was not found; this job's classes stay loaded after it ends");
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warn("ONNX Runtime's shutdown hook cannot be removed ({}): each resubmission of this job keeps its classes "
          + "and a copy of the runtime on this TaskManager; put the onnxruntime jar in Flink's lib/ and load "
          + "ai.onnxruntime. parent-first, or allow --add-opens java.base/java.lang=ALL-UNNAMED", e.toString());
    }
    return false;
  }

  /** The runnable a thread was made with (JDK 17: field target; later JDKs: holder.task). */
  private static Runnable taskOf(Thread t) throws ReflectiveOperationException {
    try {
      Field target = Thread.class.getDeclaredField("target");
      target.setAccessible(true);
      return (Runnable) target.get(t);
    } catch (NoSuchFieldException newerJdk) {
      Field holder = Thread.class.getDeclaredField("holder");
      holder.setAccessible(true);
      Object h = holder.get(t);
      Field task = h.getClass().getDeclaredField("task");
      task.setAccessible(true);
      return (Runnable) task.get(h);
    }
  }

  /** The stack given to the creating thread for a command line of {@code commandLineBytes}. */
  static long stackBytes(long commandLineBytes) {
    return Math.min(MAX_STACK, Math.max(MIN_STACK, commandLineBytes * STACK_PER_BYTE));
  }

  /** Length of this process's command line (what the telemetry reads), or 0 where it cannot be read. */
  static long commandLineBytes() {
    try {
      return Files.readAllBytes(Path.of("/proc/self/cmdline")).length;   // (its size on /proc reads as 0)
    } catch (IOException | RuntimeException e) {
      return 0;   // not Linux: the telemetry path is POSIX-only and the minimum stack applies
    }
  }

  private static OrtEnvironment createOnLargeStack(long stackBytes) {
    OrtEnvironment[] created = new OrtEnvironment[1];
    Throwable[] failed = new Throwable[1];
    Thread t = new Thread(null, () -> {
      try {
        created[0] = OrtEnvironment.getEnvironment();
      } catch (Throwable x) {
        failed[0] = x;
      }
    }, "onnxruntime-environment", stackBytes);
    t.setDaemon(true);
    t.start();
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException x) {
        interrupted = true;   // the environment is being created: wait for it, then keep the interrupt
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failed[0] instanceof RuntimeException r) {
      throw r;
    }
    if (failed[0] instanceof Error err) {
      throw err;
    }
    return created[0];
  }
}
