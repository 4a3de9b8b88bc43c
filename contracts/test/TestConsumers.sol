// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IInferaConsumer} from "../interfaces/IInferaConsumer.sol";
import {JobRegistry} from "../JobRegistry.sol";

/// @title ConsumerBase
/// @notice Test-only: a requester contract that submits jobs with a callback.
abstract contract ConsumerBase is IInferaConsumer {
    JobRegistry internal immutable _registry;

    constructor(JobRegistry registry) {
        _registry = registry;
    }

    /// @notice Approve the registry and submit one job with callback.
    /// @param modelId The model.
    /// @param input The text.
    /// @param maxFee Highest fee accepted.
    function request(uint32 modelId, string calldata input, uint96 maxFee) external returns (uint256 jobId) {
        IERC20(address(_registry.token())).approve(address(_registry), maxFee);
        string[] memory inputs = new string[](1);
        inputs[0] = input;
        return this.forwardSubmit(modelId, inputs, maxFee);
    }

    /// @notice Helper so `inputs` reaches submit as calldata.
    function forwardSubmit(uint32 modelId, string[] calldata inputs, uint96 maxFee) external returns (uint256) {
        require(msg.sender == address(this), "self only");
        return _registry.submit(modelId, inputs, maxFee, true);
    }
}

/// @notice Stores what it receives.
contract RecordingConsumer is ConsumerBase {
    uint256 public lastJobId;
    bytes32 public lastResultHash;
    uint256 public lastVectorLength;

    constructor(JobRegistry registry) ConsumerBase(registry) {}

    /// @inheritdoc IInferaConsumer
    function onInferaResult(uint256 jobId, bytes32 resultHash, bytes calldata vector) external {
        require(msg.sender == address(_registry), "not registry");
        lastJobId = jobId;
        lastResultHash = resultHash;
        lastVectorLength = vector.length;
    }
}

/// @notice Always reverts.
contract RevertingConsumer is ConsumerBase {
    constructor(JobRegistry registry) ConsumerBase(registry) {}

    /// @inheritdoc IInferaConsumer
    function onInferaResult(uint256, bytes32, bytes calldata) external pure {
        revert("consumer refuses");
    }
}

/// @notice Burns all the gas it is given.
contract GasBurningConsumer is ConsumerBase {
    constructor(JobRegistry registry) ConsumerBase(registry) {}

    /// @inheritdoc IInferaConsumer
    function onInferaResult(uint256, bytes32, bytes calldata) external pure {
        assembly {
            invalid()
        }
    }
}

/// @notice Tries to re-enter the registry from its callback with a call the test chooses, and
///         records how that call failed.
contract ReentrantConsumer is ConsumerBase {
    bool public reentered;
    bytes public reentryData;
    bytes public lastRevertData;

    constructor(JobRegistry registry) ConsumerBase(registry) {}

    /// @notice The registry call to attempt from inside the callback.
    function setReentry(bytes calldata data) external {
        reentryData = data;
    }

    /// @inheritdoc IInferaConsumer
    function onInferaResult(uint256, bytes32, bytes calldata) external {
        (bool ok, bytes memory returned) = address(_registry).call(reentryData);
        if (ok) reentered = true;
        else lastRevertData = returned;
    }
}
