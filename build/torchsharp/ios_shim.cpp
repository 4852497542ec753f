// libLibTorchSharp.so was linked against GCC 13's libstdc++, which exports std::ios_base_library_init()
// (GLIBCXX_3.4.32); older libstdc++ initialises iostreams without it. This defines it for them.
#include <ios>
namespace std { __attribute__((visibility("default"))) void ios_base_library_init() { static ios_base::Init init; } }
