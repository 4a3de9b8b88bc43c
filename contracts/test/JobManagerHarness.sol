// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {NodeRegistry} from "../NodeRegistry.sol";

/// @title JobManagerHarness
/// @notice Test-only: stands in for the JobRegistry as NodeRegistry's wired job manager, so tests
///         can draw and settle directly and choose whether a committee draw is due.
contract JobManagerHarness {
    NodeRegistry public immutable nodes;
    bool public drawsDue;

    constructor(NodeRegistry nodes_) {
        nodes = nodes_;
    }

    function setDrawsDue(bool due) external {
        drawsDue = due;
    }

    function drawCommittee(uint32 modelId, uint256 seed, uint256 count, address[] calldata exclude)
        external
        returns (address[] memory drawn)
    {
        uint256[] memory packed = nodes.drawCommittee(modelId, seed, count, exclude);
        drawn = new address[](packed.length);
        for (uint256 k = 0; k < packed.length; ++k) {
            drawn[k] = address(uint160(packed[k]));
        }
    }

    function settleSeat(address node, int32 reputationDelta, uint16 slashBps) external returns (uint256, uint32) {
        return nodes.settleSeat(node, reputationDelta, slashBps);
    }
}
