/**
 * A Flink session cluster and a Kafka broker as separate local processes (one JobManager, N
 * TaskManagers, one KRaft broker), the job jar submitted to it with Flink's own client, and the
 * failure-injection run that kills and restarts those processes under load ({@code ./nann cluster},
 * {@code ./nann chaos}).
 */
package dev.nann.cluster;
