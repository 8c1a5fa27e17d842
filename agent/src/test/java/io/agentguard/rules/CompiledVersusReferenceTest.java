package io.agentguard.rules;

import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.ProcessInfo;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Property test: for random conditions and random events, the compiled evaluator (tries,
 * hash sets, ranges, reused matchers) agrees with a deliberately naive interpreter of the
 * parsed syntax (loops over literals, fresh regexes, BigInteger CIDR arithmetic).
 */
class CompiledVersusReferenceTest {
    private static final String[] NAMES = {"xmrig", "bash", "ssh", "python3", "t-rex", "nc", "git", "miner"};
    private static final String[] EXES = {"/tmp/.x/xmrig", "/usr/bin/ssh", "/usr/bin/python3", "/opt/t-rex/t-rex",
        "/usr/bin/git", "/bin/nc"};
    private static final String[] WORDS = {"-R", "stratum+tcp://", "--donate-level", "train.py", "-fNR", "git-upload-pack",
        "1", "x", "/dev/tcp/", "-o"};
    private static final String[] ADDRS = {"127.66.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00:ec2::254",
        "192.168.7.7", "2001:db8::5"};
    private static final String[] CIDRS = {"10.0.0.0/8", "169.254.0.0/16", "127.66.0.0/16", "fc00::/7", "::1/128",
        "192.168.0.0/24", "0.0.0.0/0", "2001:db8::/32"};
    private static final int[] PORTS = {22, 443, 3333, 8888, 14444, 53};
    private static final int[] CLASSES = {0x41, 0x80, 0xcbc0, 0xc6c0, 0xc86f, 0x40};

    private final Random random = new Random(20261126);
    private final RuleTestSupport t = new RuleTestSupport();

    @Test
    void compiledConditionsAgreeWithTheReferenceInterpreter() {
        int compared = 0;
        for (int i = 0; i < 1500; i++) {
            String condition = expr(3);
            Condition syntax = ConditionParser.parse(condition, new SourcePosition("p", 1, 1));
            CompiledCondition compiled;
            try {
                compiled = RuleTestSupport.condition(condition);
            } catch (RuleException e) {
                // refused as unsatisfiable by its fields: the reference must never hold either
                assertThat(e.getMessage()).contains("can never match");
                compiled = ctx -> false;
            }
            for (int j = 0; j < 6; j++) {
                EventContext c = randomEvent();
                boolean expected = reference(syntax, c);
                assertThat(compiled.test(c)).as(condition + " on event " + j + " of " + i).isEqualTo(expected);
                compared++;
            }
        }
        assertThat(compared).isEqualTo(9000);
    }

    // ---- random conditions -------------------------------------------------------------------

    private String expr(int depth) {
        int pick = depth == 0 ? 3 : random.nextInt(6);
        return switch (pick) {
            case 0 -> "(" + expr(depth - 1) + " and " + expr(depth - 1) + ")";
            case 1 -> "(" + expr(depth - 1) + " or " + expr(depth - 1) + ")";
            case 2 -> "not " + expr(depth - 1);
            default -> comparison();
        };
    }

    private String any(String[] a) {
        return a[random.nextInt(a.length)];
    }

    private String list(String[] a) {
        int n = 1 + random.nextInt(4);
        List<String> items = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            items.add("'" + any(a) + "'");
        }
        return "(" + String.join(", ", items) + ")";
    }

    private String comparison() {
        String[] stringOps = {"=", "!=", "in", "contains", "startswith", "endswith", "glob", "regex"};
        return switch (random.nextInt(11)) {
            case 0 -> "proc.name " + stringOp(stringOps, NAMES);
            case 1 -> "proc.exe " + stringOp(stringOps, EXES);
            case 2 -> "proc.cmdline " + stringOp(new String[] {"contains", "startswith", "endswith", "regex"}, WORDS);
            case 3 -> "proc.aname " + stringOp(new String[] {"=", "!=", "in", "startswith"}, NAMES);
            case 4 -> "proc.aname[" + (1 + random.nextInt(3)) + "] " + stringOp(new String[] {"=", "in"}, NAMES);
            case 5 -> "conn.port " + intOp();
            case 6 -> "conn.addr " + (random.nextBoolean() ? "cidr " + list(CIDRS) : (random.nextBoolean() ? "= " : "!= ")
                    + "'" + any(ADDRS) + "'");
            case 7 -> "evt.type " + (random.nextBoolean() ? "= exec" : "in (connect, gpu_ioctl)");
            case 8 -> random.nextBoolean() ? "gpu.compute" : "gpu.class = " + CLASSES[random.nextInt(CLASSES.length)];
            case 9 -> "proc.uid " + (random.nextBoolean() ? "< 1000" : ">= 1000");
            default -> "proc.pname " + stringOp(new String[] {"=", "in", "endswith"}, NAMES);
        };
    }

    private String stringOp(String[] ops, String[] values) {
        String op = ops[random.nextInt(ops.length)];
        return switch (op) {
            case "=", "!=" -> op + " '" + any(values) + "'";
            case "glob" -> "glob " + (random.nextBoolean() ? "'*" + any(values).substring(1) + "'" : list(values));
            case "regex" -> "regex '" + Pattern.quote(any(values)) + (random.nextBoolean() ? "$'" : "'");
            default -> op + " " + list(values);
        };
    }

    private String intOp() {
        String[] ops = {"=", "!=", "<", "<=", ">", ">="};
        if (random.nextInt(4) == 0) {
            return "in (" + PORTS[random.nextInt(PORTS.length)] + ", " + PORTS[random.nextInt(PORTS.length)] + ")";
        }
        return ops[random.nextInt(ops.length)] + " " + PORTS[random.nextInt(PORTS.length)];
    }

    // ---- random events ------------------------------------------------------------------------

    private EventContext randomEvent() {
        String exe = any(EXES);
        List<String> argv = new ArrayList<>(List.of(exe.substring(exe.lastIndexOf('/') + 1)));
        for (int i = random.nextInt(4); i > 0; i--) {
            argv.add(any(WORDS));
        }
        List<String> ancestors = new ArrayList<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            ancestors.add(any(NAMES));
        }
        int pid = 3000 + random.nextInt(100) * 10;
        int slot = t.process(pid, exe, argv, ancestors);
        ProcessInfo process = ProcessInfo.newBuilder().setPid(pid).setPpid(ancestors.isEmpty() ? 1 : pid - 1)
                .setUid(random.nextBoolean() ? 0 : 1000).setComm("c").setCgroupId(7).build();
        Event.Builder e = Event.newBuilder().setMonotonicNs(1).setProcess(process);
        switch (random.nextInt(3)) {
            case 0 -> e.setExec(ExecEvent.newBuilder().setFilename(exe).addAllArgs(argv).setSuccess(true));
            case 1 -> {
                String addr = any(ADDRS);
                e.setConnect(ConnectEvent.newBuilder().setFamily(addr.contains(":") ? AddressFamily.ADDRESS_FAMILY_INET6
                        : AddressFamily.ADDRESS_FAMILY_INET).setAddress(addr).setPort(PORTS[random.nextInt(PORTS.length)])
                        .setProtocol(6));
            }
            default -> e.setGpu(GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_CONTROL).setMajor(195).setMinor(255)
                    .setIoctl(GpuIoctl.newBuilder().setCmd(0xc030462b).setAllocClass(CLASSES[random.nextInt(CLASSES.length)])));
        }
        return t.at(e.build(), slot);
    }

    // ---- the reference interpreter --------------------------------------------------------------

    private static boolean reference(Condition c, EventContext ctx) {
        return switch (c) {
            case Condition.And a -> a.terms().stream().allMatch(x -> reference(x, ctx));
            case Condition.Or o -> o.terms().stream().anyMatch(x -> reference(x, ctx));
            case Condition.Not n -> !reference(n.term(), ctx);
            case Condition.Name n -> {
                Field f = Field.byName(n.name());
                yield ctx.has(f) && ctx.bool(f);
            }
            case Condition.Compare cmp -> compare(cmp, ctx);
        };
    }

    private static boolean compare(Condition.Compare cmp, EventContext ctx) {
        List<String> values = cmp.values().stream().map(Condition.Literal::text).toList();
        String op = cmp.operator();
        if (cmp.field().startsWith("proc.aname")) {
            int n = ctx.ancestorCount();
            if (cmp.field().contains("[")) {
                int index = Integer.parseInt(cmp.field().replaceAll("\\D", "")) - 1;
                return index < n && stringHolds(op, ctx.ancestorName(index), values);
            }
            for (int i = 0; i < n; i++) {
                if (stringHolds(op, ctx.ancestorName(i), values)) {
                    return true;
                }
            }
            return false;
        }
        Field f = Field.byName(cmp.field());
        if (!ctx.has(f)) {
            return false;
        }
        return switch (f.type()) {
            case STRING -> stringHolds(op, ctx.string(f), values);
            case INT -> {
                long v = ctx.number(f);
                List<Long> nums = values.stream().map(Long::decode).toList();
                yield switch (op) {
                    case "=" -> v == nums.getFirst();
                    case "!=" -> v != nums.getFirst();
                    case "<" -> v < nums.getFirst();
                    case "<=" -> v <= nums.getFirst();
                    case ">" -> v > nums.getFirst();
                    case ">=" -> v >= nums.getFirst();
                    default -> nums.contains(v);
                };
            }
            case BOOL -> ctx.bool(f) == (values.getFirst().equals("true") != op.equals("!="));
            case IP -> {
                BigInteger addr = new BigInteger(1, longs(ctx.ipHigh(), ctx.ipLow()));
                boolean inAny = values.stream().anyMatch(v -> inCidr(addr, v));
                yield op.equals("!=") != inAny;
            }
        };
    }

    private static boolean stringHolds(String op, String v, List<String> values) {
        return switch (op) {
            case "=" -> v.equals(values.getFirst());
            case "!=" -> !v.equals(values.getFirst());
            case "in" -> values.contains(v);
            case "contains" -> values.stream().anyMatch(v::contains);
            case "startswith" -> values.stream().anyMatch(v::startsWith);
            case "endswith" -> values.stream().anyMatch(v::endsWith);
            case "glob" -> values.stream().anyMatch(g -> glob(g, v));
            case "regex" -> values.stream().anyMatch(r -> Pattern.compile(r).matcher(v).find());
            default -> throw new AssertionError(op);
        };
    }

    /** Naive recursive glob: * and ? only (the generator uses no classes). */
    private static boolean glob(String g, String v) {
        if (g.isEmpty()) {
            return v.isEmpty();
        }
        char c = g.charAt(0);
        if (c == '*') {
            for (int i = 0; i <= v.length(); i++) {
                if (glob(g.substring(1), v.substring(i))) {
                    return true;
                }
            }
            return false;
        }
        return !v.isEmpty() && (c == '?' || c == v.charAt(0)) && glob(g.substring(1), v.substring(1));
    }

    private static byte[] longs(long hi, long lo) {
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (hi >>> (56 - 8 * i));
            b[8 + i] = (byte) (lo >>> (56 - 8 * i));
        }
        return b;
    }

    private static boolean inCidr(BigInteger addr, String text) {
        try {
            String[] parts = text.split("/");
            byte[] raw = InetAddress.getByName(parts[0]).getAddress();
            int bits;
            BigInteger net;
            if (raw.length == 4) {
                net = BigInteger.valueOf(0xffffL).shiftLeft(32).or(new BigInteger(1, raw));
                bits = parts.length > 1 ? 96 + Integer.parseInt(parts[1]) : 128;
            } else {
                net = new BigInteger(1, raw);
                bits = parts.length > 1 ? Integer.parseInt(parts[1]) : 128;
            }
            BigInteger mask = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE)
                    .shiftRight(bits).xor(BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE));
            return addr.and(mask).equals(net.and(mask));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
