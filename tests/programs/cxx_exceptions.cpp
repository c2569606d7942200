// Throws and catches 1000 exceptions carrying strings through three levels of calls (each
// thrown object comes from __cxa_allocate_exception, i.e. malloc; each message is a heap
// std::string), fills a vector through them, and leaks exactly one block: 40 bytes from
// leak_once(). Prints "caught 1000" and "sum S", the same with or without a tracker.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

__attribute__((noinline)) static void level3(int i)
{
    if (i % 2 == 0)
        throw std::runtime_error("even number " + std::to_string(i) + std::string(40, 'x'));
    throw std::out_of_range("odd number " + std::to_string(i) + std::string(40, 'y'));
}

__attribute__((noinline)) static void level2(int i)
{
    std::vector<std::string> scratch(3, std::string(64, 'z')); // unwound by the throw
    level3(i + static_cast<int>(scratch.size()) - 3);
}

__attribute__((noinline)) static void level1(int i)
{
    level2(i);
}

__attribute__((noinline)) int *leak_once()
{
    return new int[10];
}

int main()
{
    std::vector<size_t> lengths;
    int caught = 0;
    for (int i = 0; i < 1000; i++) {
        try {
            level1(i);
        } catch (const std::exception &e) {
            lengths.push_back(std::string(e.what()).size());
            caught++;
        }
    }
    size_t sum = 0;
    for (size_t n : lengths)
        sum += n;
    static int *volatile kept = leak_once();
    (void)kept;
    std::printf("caught %d\nsum %zu\n", caught, sum);
    return 0;
}
