package dev.nann.cluster;

/** The faults {@link ChaosRun} injects, each against real processes. */
public enum Fault {
  /** {@code kill -9} of a TaskManager running serving; a new one is started at once. */
  TASK_MANAGER_KILL,
  /** The broker stopped (SIGTERM) and started again two seconds later. */
  BROKER_RESTART,
  /** Index-sync's TaskManager killed as soon as it published a new snapshot, before its next checkpoint. */
  INDEX_SYNC_KILL,
  /** The newest snapshot damaged in the store, then a serving TaskManager killed: the restore cannot load it. */
  BROKEN_SNAPSHOT,
  /** A serving TaskManager killed the moment a serving checkpoint completes, before its transactions commit. */
  COMMIT_WINDOW_KILL,
  /**
   * Every TaskManager killed the moment a serving checkpoint completes, the replacements
   * started only after the sinks' transaction timeout (plus the broker's 10 s abort sweep).
   */
  TIMEOUT_RESTORE
}
