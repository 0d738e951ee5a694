/*
 * switch.c: switch statements in the shapes gcc compiles to jump tables
 * (dense case ranges, indirect `jmp *table(,%reg,8)`), to compare trees
 * (sparse cases) and to bit tests; plus a bytecode interpreter whose
 * dispatch is one big dense switch.  Every function runs over many
 * inputs and the results are hashed.
 */
#include "rt.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* Dense: 0..31 each with its own computation. */
static int64_t dense(unsigned op, int64_t x)
{
    switch (op) {
    case 0:
        return x + 1;
    case 1:
        return x - 1;
    case 2:
        return x * 3;
    case 3:
        return x / 2;
    case 4:
        return x ^ 0x5a5a;
    case 5:
        return (int64_t)((uint64_t)x << 3);
    case 6:
        return x >> 2;
    case 7:
        return -x;
    case 8:
        return ~x;
    case 9:
        return x * x;
    case 10:
        return x & 0xff;
    case 11:
        return x | 0x100;
    case 12:
        return x % 7;
    case 13:
        return x + 1000;
    case 14:
        return x - 1000;
    case 15:
        return x * 10 + 5;
    case 16:
        return x > 0 ? x : -x;
    case 17:
        return x == 0;
    case 18:
        return x < 100;
    case 19:
        return (x >> 1) ^ x;
    case 20:
        return x * 0x9e3779b9;
    case 21:
        return x / 3;
    case 22:
        return x % 11;
    case 23:
        return x + x / 2;
    case 24:
        return x & -x;
    case 25:
        return x ^ (x >> 7);
    case 26:
        return x + 26;
    case 27:
        return x - 27;
    case 28:
        return x * 28;
    case 29:
        return x | 29;
    case 30:
        return x & 30;
    case 31:
        return 31;
    default:
        return x;
    }
}

/* Dense with fall-through and shared bodies. */
static unsigned fallthrough(unsigned n)
{
    unsigned r = 0;

    switch (n % 12) {
    case 0:
        r += 1;
        /* fall through */
    case 1:
        r += 2;
        /* fall through */
    case 2:
        r += 4;
        break;
    case 3:
    case 4:
    case 5:
        r = 100 + n;
        break;
    case 6:
        r = n * n;
        /* fall through */
    case 7:
        r += 7;
        break;
    case 8:
    case 10:
        r = 8;
        break;
    default:
        r = 99;
        break;
    }
    return r;
}

/* Classifies a byte: a 256-entry jump table once gcc merges the cases. */
static int classify(unsigned char c)
{
    switch (c) {
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return 1;
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
    case 'A':
    case 'E':
    case 'I':
    case 'O':
    case 'U':
        return 2;
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        return 3;
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
        return 4;
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
        return 5;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            return 6;
        }
        return c < 32 || c >= 127 ? 7 : 8;
    }
}

/* Sparse: gcc emits a tree of compares. */
static int sparse(uint32_t x)
{
    switch (x) {
    case 1:
        return 10;
    case 10:
        return 20;
    case 100:
        return 30;
    case 1000:
        return 40;
    case 4096:
        return 50;
    case 65535:
        return 60;
    case 100000:
        return 70;
    case 0x7fffffff:
        return 80;
    case 0x80000000u:
        return 90;
    case 0xffffffffu:
        return 100;
    default:
        return -1;
    }
}

/* A small stack machine. */
enum vm_op {
    VM_HALT,
    VM_PUSH, /* imm */
    VM_POP,
    VM_DUP,
    VM_SWAP,
    VM_OVER,
    VM_ADD,
    VM_SUB,
    VM_MUL,
    VM_DIV,
    VM_MOD,
    VM_LT,
    VM_EQ,
    VM_JMP,   /* target */
    VM_JZ,    /* target */
    VM_LOAD,  /* slot */
    VM_STORE, /* slot */
    VM_PRINT,
    VM_INC, /* slot */
    VM_NOT,
};

struct vm {
    int64_t stack[64];
    int64_t slot[8];
    int sp;
    uint64_t steps;
    uint64_t out_hash;
    unsigned printed;
};

static void vm_run(struct vm *vm, const int32_t *code)
{
    int pc = 0;
    int64_t a, b;

    for (;;) {
        vm->steps++;
        switch ((enum vm_op)code[pc++]) {
        case VM_HALT:
            return;
        case VM_PUSH:
            vm->stack[vm->sp++] = code[pc++];
            break;
        case VM_POP:
            vm->sp--;
            break;
        case VM_DUP:
            vm->stack[vm->sp] = vm->stack[vm->sp - 1];
            vm->sp++;
            break;
        case VM_SWAP:
            a = vm->stack[vm->sp - 1];
            vm->stack[vm->sp - 1] = vm->stack[vm->sp - 2];
            vm->stack[vm->sp - 2] = a;
            break;
        case VM_OVER:
            vm->stack[vm->sp] = vm->stack[vm->sp - 2];
            vm->sp++;
            break;
        case VM_ADD:
        case VM_SUB:
        case VM_MUL:
        case VM_DIV:
        case VM_MOD:
        case VM_LT:
        case VM_EQ:
            b = vm->stack[--vm->sp];
            a = vm->stack[vm->sp - 1];
            switch ((enum vm_op)code[pc - 1]) {
            case VM_ADD:
                a += b;
                break;
            case VM_SUB:
                a -= b;
                break;
            case VM_MUL:
                a *= b;
                break;
            case VM_DIV:
                a = b ? a / b : 0;
                break;
            case VM_MOD:
                a = b ? a % b : 0;
                break;
            case VM_LT:
                a = a < b;
                break;
            default:
                a = a == b;
                break;
            }
            vm->stack[vm->sp - 1] = a;
            break;
        case VM_JMP:
            pc = code[pc];
            break;
        case VM_JZ:
            if (vm->stack[--vm->sp] == 0) {
                pc = code[pc];
            } else {
                pc++;
            }
            break;
        case VM_LOAD:
            vm->stack[vm->sp++] = vm->slot[code[pc++]];
            break;
        case VM_STORE:
            vm->slot[code[pc++]] = vm->stack[--vm->sp];
            break;
        case VM_PRINT:
            vm->out_hash = mix(vm->out_hash, (uint64_t)vm->stack[--vm->sp]);
            vm->printed++;
            break;
        case VM_INC:
            vm->slot[code[pc++]]++;
            break;
        case VM_NOT:
            vm->stack[vm->sp - 1] = !vm->stack[vm->sp - 1];
            break;
        default:
            rt_printf("vm: bad opcode %d at %d\n", code[pc - 1], pc - 1);
            return;
        }
    }
}

/*
 * Prints the primes below 1000 (trial division) into the VM's output:
 *   n = 2
 *   loop: if !(n < 1000) halt
 *     d = 2; prime = 1
 *     inner: if !(d * d < n + 1) goto done
 *       if n % d == 0 { prime = 0; goto done }
 *       d++ ; goto inner
 *     done: if prime print n
 *     n++; goto loop
 */
static const int32_t primes_program[] = {
    /* 0 */ VM_PUSH,
    2,
    VM_STORE,
    0,
    /* 4 */ VM_LOAD,
    0,
    VM_PUSH,
    1000,
    VM_LT,
    VM_JZ,
    59,
    /* 11 */ VM_PUSH,
    2,
    VM_STORE,
    1,
    VM_PUSH,
    1,
    VM_STORE,
    2,
    /* 19 */ VM_LOAD,
    1,
    VM_DUP,
    VM_MUL,
    VM_LOAD,
    0,
    VM_PUSH,
    1,
    VM_ADD,
    /* 28 */ VM_LT,
    VM_JZ,
    48,
    /* 31 */ VM_LOAD,
    0,
    VM_LOAD,
    1,
    VM_MOD,
    VM_JZ,
    42,
    /* 38 */ VM_INC,
    1,
    VM_JMP,
    19,
    /* 42 */ VM_PUSH,
    0,
    VM_STORE,
    2,
    VM_JMP,
    48,
    /* 48 */ VM_LOAD,
    2,
    VM_JZ,
    55,
    VM_LOAD,
    0,
    VM_PRINT,
    /* 55 */ VM_INC,
    0,
    VM_JMP,
    4,
    /* 59 */ VM_HALT,
};

int main(void)
{
    uint64_t h = 0;
    struct vm vm;
    unsigned i, op;
    int64_t x;
    int counts[9] = {0};

    for (op = 0; op < 34; op++) {
        uint64_t hop = 0;

        for (x = -300; x <= 300; x += 7) {
            hop = mix(hop, (uint64_t)dense(op, x));
        }
        h = mix(h, hop);
        if (op % 4 == 0) {
            rt_printf("dense op %2u: %016llx\n", op, (unsigned long long)hop);
        }
    }
    rt_printf("dense all: %016llx\n", (unsigned long long)h);

    h = 0;
    for (i = 0; i < 1000; i++) {
        h = mix(h, fallthrough(i));
    }
    rt_printf("fallthrough: %016llx f(0..12) =", (unsigned long long)h);
    for (i = 0; i <= 12; i++) {
        rt_printf(" %u", fallthrough(i));
    }
    rt_printf("\n");

    for (i = 0; i < 256; i++) {
        counts[classify((unsigned char)i)]++;
    }
    rt_printf("classify: digits %d vowels %d space %d ops %d brackets %d "
              "letters %d control %d other %d\n",
              counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
              counts[7], counts[8]);

    h = 0;
    for (i = 0; i < 32; i++) {
        h = mix(h, (uint64_t)sparse(1u << i));
        h = mix(h, (uint64_t)sparse((1u << i) - 1));
        h = mix(h, (uint64_t)sparse(i * 1000));
    }
    rt_printf("sparse: %016llx sparse(100000) = %d sparse(5) = %d\n",
              (unsigned long long)h, sparse(100000), sparse(5));

    memset(&vm, 0, sizeof(vm));
    vm_run(&vm, primes_program);
    rt_printf("vm: primes below 1000: %u, hash %016llx, %llu steps, sp %d\n",
              vm.printed, (unsigned long long)vm.out_hash,
              (unsigned long long)vm.steps, vm.sp);
    return 0;
}
