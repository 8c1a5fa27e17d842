package io.agentguard.collector;

import io.agentguard.collector.cli.CollectorMain;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** An operator filters stored violations by container, pod and job with agentguard-collector query. */
class QueryWorkloadFilterTest {
    @Test
    void queryPrintsOnlyTheNamedWorkloadsViolationsWithTheirWorkload(@TempDir Path dir) throws Exception {
        String db = "sqlite:" + dir.resolve("c.db");
        try (JdbcStore s = JdbcStore.open(db)) {
            s.append("n", StoreContract.E, List.of(
                    StoreContract.inWorkload(1, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_KUBERNETES)
                            .setContainerId(StoreContract.CONTAINER).setPodUid(StoreContract.POD).setPodName("trainer-7")
                            .setPodNamespace("ml").build()),
                    StoreContract.inWorkload(2, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_SLURM)
                            .setJobId("4242").setStepId("batch").build())), "t");
        }
        assertThat(run("query", "--db", db, "--container", StoreContract.CONTAINER.substring(0, 12).toUpperCase()))
                .contains("ml/trainer-7/" + StoreContract.CONTAINER.substring(0, 12)).doesNotContain("job:4242");
        assertThat(run("query", "--db", db, "--pod", StoreContract.POD)).contains("v1").doesNotContain("v2");
        assertThat(run("query", "--db", db, "--job", "4242")).contains("job:4242.batch").doesNotContain("trainer");
        assertThat(run("query", "--db", db, "--job", "1")).doesNotContain(" v1").doesNotContain(" v2");
        assertThat(CollectorMain.execute("query", "--db", db, "--container", "3f4e")).isEqualTo(2);
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        try {
            assertThat(CollectorMain.execute(args)).isZero();
        } finally {
            System.setOut(old);
        }
        return out.toString();
    }
}
