// idcard-sim: a wire-level simulated ID-card reader. Everything lives in the kiosk_idcard_sim
// library (sim_program.cpp) so that its parts are tested without a process.
#include "hal/idcard/sim/sim_program.hpp"

int main(int argc, char** argv) { return kiosk::hal::idcard::sim::run_idcard_sim(argc, argv); }
